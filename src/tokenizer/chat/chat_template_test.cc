// Unit tests of the template engine: expressions, statements, filters, tests, whitespace
// control, undefined semantics, errors with line numbers, resource limits and the
// tokenizer-directory loader. Expected strings are what @huggingface/jinja renders.
#include "tokenizer/chat/chat_template.h"

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>

namespace brisk::tokenizer {
namespace {

using OrderedJson = nlohmann::ordered_json;

// Renders `source` with `context` (JSON text, key order kept); "ERROR: ..." on failure.
std::string Render(std::string_view source, const std::string& context = "{}") {
  absl::StatusOr<ChatTemplate> tmpl = ChatTemplate::Parse(source);
  if (!tmpl.ok()) return "ERROR: " + std::string(tmpl.status().message());
  absl::StatusOr<std::string> out = tmpl->Render(OrderedJson::parse(context));
  if (!out.ok()) return "ERROR: " + std::string(out.status().message());
  return *out;
}

constexpr char kData[] = R"({
  "s": "Hello World", "n": 7, "f": 2.5, "arr": [3, 1, 2], "strs": ["b", "A", "c"],
  "obj": {"b": 1, "a": 2, "10": 3, "2": 4}, "nul": null, "b": true, "empty": "",
  "people": [{"name": "Ann", "age": 30}, {"name": "bob", "age": 25},
             {"name": "Cy", "age": 35, "admin": true}],
  "nested": {"x": {"y": [10, 20, {"z": "deep"}]}},
  "u": "h\u00e9llo \ud83d\ude00", "multiline": "a\n\nb\n c", "fl": 3.0
})";

TEST(ChatTemplateExpressionTest, Literals) {
  EXPECT_EQ(Render("{{ 1 }}|{{ 1.5 }}|{{ -2 }}|{{ 'a' \"b\" }}|{{ none }}|{{ True }}|{{ 3.0 }}"),
            "1|1.5|-2|ab||true|3.0");
  EXPECT_EQ(Render("{{ [1, 'x', none, true] }}|{{ {'k': [1, {'j': 2}]} }}"),
            "[1, \"x\", null, true]|{\"k\": [1, {\"j\": 2}]}");
  EXPECT_EQ(Render(R"({{ 'it\'s' }} {{ "q\"t" }} {{ 'a\tb' }} {{ '\x41\u00e9' }})"),
            "it's q\"t a\tb A\xC3\xA9");
}

TEST(ChatTemplateExpressionTest, Arithmetic) {
  EXPECT_EQ(Render("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 6 / 2 }}"),
            "3 -4 1 -1 3.5 3.0");
  EXPECT_EQ(Render("{{ 2 ** 10 }} {{ 2 ** -1 }} {{ 2 ** 3 ** 2 }} {{ 1 + 2 * 3 - 4 }}"),
            "1024 0.5 64 3");
  EXPECT_EQ(Render("{{ n * f }} {{ 0.1 + 0.2 }} {{ 1 / 0 }} {{ fl }} {{ fl + 1 }}", kData),
            "17.5 0.30000000000000004 Infinity 3 4");
}

TEST(ChatTemplateExpressionTest, ConcatenationAndComparison) {
  EXPECT_EQ(Render("{{ 'a' ~ 1 ~ 2.0 ~ true ~ [1, 2] ~ {'a': 1} }}|{{ 'x' + 1 }}|{{ s + '!' }}",
                   kData),
            "a12true1,2[object Map]|x1|Hello World!");
  EXPECT_EQ(Render("{{ 1 == 1.0 }} {{ '1' == 1 }} {{ none == nul }} {{ missing == none }} "
                   "{{ arr == arr }} {{ [1] == [1] }} {{ 3 > 2 }} {{ 2 <= 2.0 }}",
                   kData),
            "true true true true true false true true");
  EXPECT_EQ(Render("{{ 'a' in 'cat' }} {{ 2 in arr }} {{ 'a' in obj }} {{ 'z' not in obj }} "
                   "{{ 'x' in missing }} {{ 'x' not in missing }}",
                   kData),
            "true true true true false true");
}

TEST(ChatTemplateExpressionTest, LogicAndConditionals) {
  EXPECT_EQ(Render("{{ true and 'x' }} {{ false or 'y' }} {{ none or [] }} {{ not 0 }} "
                   "{{ 1 and 0 }} {{ 'a' if 3 > 5 else 'b' }} [{{ 'q' if false }}] "
                   "{{ 'x' if 0 else 'y' if 1 else 'w' }}"),
            "x y [] true 0 b [] y");
}

TEST(ChatTemplateExpressionTest, MembersIndicesAndSlices) {
  EXPECT_EQ(Render("{{ s[0] }}{{ s[-1] }} {{ s[1:4] }} {{ s[::-1] }} {{ arr[-1] }} {{ arr[1:] }} "
                   "{{ arr[::-1] }} [{{ arr[5] }}] {{ nested.x.y[2].z }} {{ nested['x']['y'][0] }} "
                   "{{ arr.0 }} {{ u[1:3] }} {{ u.length }}",
                   kData),
            "Hd ell dlroW olleH 2 [1, 2] [2, 1, 3] [] deep 10 3 \xC3\xA9l 8");
}

TEST(ChatTemplateExpressionTest, StringMethods) {
  EXPECT_EQ(Render("{{ s.upper() }} {{ s.lower() }} [{{ '  pad  '.strip() }}] {{ s.title() }} "
                   "{{ 'abc DEF'.capitalize() }} {{ s.startswith('Hell') }} "
                   "{{ s.endswith(('x', 'ld')) }}",
                   kData),
            "HELLO WORLD hello world [pad] Hello World Abc DEF true true");
  EXPECT_EQ(Render("{{ s.split(' ') }} {{ ' a  b c '.split() }} {{ 'a,b,c'.split(',', 1) }} "
                   "{{ s.replace('l', 'L') }} {{ s.replace('l', 'L', 2) }} {{ 'ab'.replace('', '-') }}",
                   kData),
            "[\"Hello\", \"World\"] [\"a\", \"b\", \"c\"] [\"a\", \"b,c\"] HeLLo WorLd HeLLo World "
            "-a-b-");
  // As in the reference, the characters argument of lstrip/rstrip/strip is ignored.
  EXPECT_EQ(Render("[{{ '\\n\\n x\\n'.lstrip('\\n') }}]"), "[x\n]");
}

TEST(ChatTemplateExpressionTest, DictMethods) {
  EXPECT_EQ(Render("{{ obj.get('a') }} {{ obj.get('zz', 'dflt') }} [{{ obj.get('nope') }}] "
                   "{{ obj.keys() }} {{ obj.values() }} {{ obj.items() }}",
                   kData),
            "2 dflt [] [\"2\", \"10\", \"b\", \"a\"] [4, 3, 1, 2] "
            "[[\"2\", 4], [\"10\", 3], [\"b\", 1], [\"a\", 2]]");
}

TEST(ChatTemplateStatementTest, IfElifElse) {
  const char* tmpl = "{% if n > 10 %}big{% elif n > 5 %}mid{% else %}small{% endif %}";
  EXPECT_EQ(Render(tmpl, R"({"n": 7})"), "mid");
  EXPECT_EQ(Render(tmpl, R"({"n": 70})"), "big");
  EXPECT_EQ(Render(tmpl, R"({"n": 1})"), "small");
}

TEST(ChatTemplateStatementTest, ForLoopVariables) {
  EXPECT_EQ(Render("{% for x in ['a', 'b', 'c'] %}{{ loop.index }}{{ loop.index0 }}"
                   "{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}"
                   "{{ loop.length }}{{ loop.previtem if loop.previtem is defined else '-' }}"
                   "{{ loop.nextitem or '-' }};{% endfor %}"),
            "1032truefalse3-b;2121falsefalse3ac;3210falsetrue3b-;");
}

TEST(ChatTemplateStatementTest, ForLoopForms) {
  EXPECT_EQ(Render("{% for k, v in obj.items() %}{{ k }}={{ v }},{% endfor %}", kData),
            "2=4,10=3,b=1,a=2,");
  EXPECT_EQ(Render("{% for k in obj %}{{ k }}{% endfor %}", kData), "210ba");
  EXPECT_EQ(Render("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty");
  EXPECT_EQ(Render("{% for x in arr if x > 1 %}{{ x }}/{{ loop.length }} {% endfor %}", kData),
            "3/2 2/2 ");
  EXPECT_EQ(Render("{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}"
                   "{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}"),
            "0134");
  EXPECT_EQ(Render("{% for i in range(1, 10, 3) %}{{ i }}{% endfor %}"
                   "{% for i in range(5, 0, -2) %}{{ i }}{% endfor %}"),
            "147531");
  // As in the reference, text before a continue in the same iteration is dropped.
  EXPECT_EQ(Render("{% for x in [1, 2] %}A{% if x == 1 %}{% continue %}{% endif %}B{% endfor %}"),
            "AB");
}

TEST(ChatTemplateStatementTest, ScopingAndNamespaces) {
  // Assignments inside a loop stay in the loop; inside an if they do not.
  EXPECT_EQ(Render("{% set t = 0 %}{% for x in [1, 2] %}{% set t = t + x %}{% endfor %}{{ t }}"),
            "0");
  EXPECT_EQ(Render("{% if true %}{% set v = 'yes' %}{% endif %}{{ v }}"), "yes");
  EXPECT_EQ(Render("{% set ns = namespace(t=0, tag='x') %}{% for x in [1, 2, 3] %}"
                   "{% set ns.t = ns.t + x %}{% endfor %}{{ ns.t }}{{ ns.tag }} {{ ns }}"),
            "6x {\"t\": 6, \"tag\": \"x\"}");
  EXPECT_EQ(Render("{% set x %}inner {{ 1 + 1 }}{% endset %}[{{ x }}]{% set a, b = 1, 2 %}"
                   "{{ a }}{{ b }}"),
            "[inner 2]12");
}

TEST(ChatTemplateStatementTest, MacrosAndCallBlocks) {
  EXPECT_EQ(Render("{% macro greet(name, greeting='Hello', punct='!') %}{{ greeting }}, "
                   "{{ name }}{{ punct }}{% endmacro %}{{ greet('Ann') }} {{ greet('Bob', 'Hi') }} "
                   "{{ greet('Cy', punct='?') }}"),
            "Hello, Ann! Hi, Bob! Hello, Cy?");
  EXPECT_EQ(Render("{% macro m() %}{{ varargs }}{{ kwargs }}{% endmacro %}{{ m(1, 2, k=3) }}"),
            "[1, 2]{\"k\": 3}");
  EXPECT_EQ(Render("{% macro rec(n) %}{% if n > 0 %}{{ n }}{{ rec(n - 1) }}{% endif %}"
                   "{% endmacro %}{{ rec(4) }}"),
            "4321");
  EXPECT_EQ(Render("{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}"
                   "{% call wrap('b') %}bold{% endcall %}"),
            "<b>bold</b>");
  EXPECT_EQ(Render("{% macro each(xs) %}{% for x in xs %}{{ caller(x) }}{% endfor %}{% endmacro %}"
                   "{% call(item) each([1, 2]) %}[{{ item }}]{% endcall %}"),
            "[1][2]");
  EXPECT_EQ(Render("{% macro one(a) %}{{ a }}{% endmacro %}{{ one(1, 2) }}"),
            "ERROR: line 1: macro 'one' takes not more than 1 argument(s)");
}

TEST(ChatTemplateStatementTest, FilterBlocksAndGenerationTags) {
  EXPECT_EQ(Render("{% filter upper %}shout {{ 'it' }}{% endfilter %}|"
                   "{% filter replace('a', 'o') %}banana{% endfilter %}"),
            "SHOUT IT|bonono");
  EXPECT_EQ(Render("A {% generation %} B {% endgeneration %} C|{%- generation -%} x "
                   "{%- endgeneration -%} |"),
            "A  B  C|x|");
}

TEST(ChatTemplateFilterTest, ListFilters) {
  EXPECT_EQ(Render("{{ arr|sort }} {{ strs|sort }} {{ strs|sort(reverse=true) }} {{ arr|reverse }} "
                   "{{ arr|first }}{{ arr|last }}{{ arr|length }}{{ arr|count }} {{ arr|join('-') }} "
                   "{{ [1, 1, 2, 'a', 'a']|unique }} {{ arr|string }}",
                   kData),
            "[1, 2, 3] [\"A\", \"b\", \"c\"] [\"c\", \"b\", \"A\"] [2, 1, 3] 3233 3-1-2 "
            "[1, 2, \"a\"] [3, 1, 2]");
  EXPECT_EQ(Render("{{ people|sort(attribute='age')|map(attribute='name')|join(',') }} "
                   "{{ people|selectattr('admin')|map(attribute='name')|list }} "
                   "{{ people|rejectattr('admin')|map(attribute='name')|list }} "
                   "{{ people|selectattr('name', 'equalto', 'bob')|list|length }} "
                   "{{ people|map(attribute='admin', default=false) }}",
                   kData),
            "bob,Ann,Cy [\"Cy\"] [\"Ann\", \"bob\"] 1 [false, false, true]");
  EXPECT_EQ(Render("{{ [1, 0, 2]|select|list }} {{ [1, 2, 3, 4]|select('odd') }} "
                   "{{ [1, 2, 3]|reject('equalto', 2) }} {{ ['a', 'B']|map('upper')|join }}"),
            "[1, 2] [1, 3] [1, 3] AB");
}

TEST(ChatTemplateFilterTest, StringAndNumberFilters) {
  EXPECT_EQ(Render("[{{ ' x '|trim }}] {{ 'ab cd'|title }} {{ 'ab cd'|capitalize }} "
                   "{{ '42abc'|int }} {{ 'x'|int }} {{ 'x'|int(7) }} {{ '3.5e1z'|float }} "
                   "{{ 2.5|int }} {{ -2.5|int }} {{ 7|float }} {{ -3|abs }} {{ 3.0|string }} "
                   "{{ true|int }} {{ 'hello world'|wordcount }} {{ 2.5|round }} {{ 3.14159|round(2) }}"),
            "[x] Ab Cd Ab cd 42 0 7 35.0 2 -3 7.0 3 3.0 1 2 2.0 3.14");
  EXPECT_EQ(Render("{{ multiline|indent }}|{{ multiline|indent(2, true) }}|"
                   "{{ multiline|indent(first=true, blank=true) }}",
                   kData),
            "a\n\n    b\n     c|  a\n\n  b\n   c|    a\n    \n    b\n     c");
  EXPECT_EQ(Render("{{ 'a-b'|replace('-', '+') }} {{ u|length }} {{ u|upper }} {{ 'abc'|list }}",
                   kData),
            "a+b 8 H\xC3\x89LLO \xF0\x9F\x98\x80 [\"a\", \"b\", \"c\"]");
}

TEST(ChatTemplateFilterTest, DefaultAndDictFilters) {
  EXPECT_EQ(Render("{{ missing|default('d') }} [{{ nul|default('d') }}] {{ empty|default('d', true) }} "
                   "{{ s|d('x') }} [{{ missing|default }}] {{ obj|items|first }} {{ obj|length }} "
                   "{{ obj|dictsort }}",
                   kData),
            "d [] d Hello World [] [\"2\", 4] 4 [[\"10\", 3], [\"2\", 4], [\"a\", 2], [\"b\", 1]]");
}

TEST(ChatTemplateFilterTest, ToJson) {
  EXPECT_EQ(Render("{{ obj|tojson }} {{ people[2]|tojson(indent=2) }}", kData),
            "{\"2\": 4, \"10\": 3, \"b\": 1, \"a\": 2} {\n  \"name\": \"Cy\",\n  \"age\": 35,\n"
            "  \"admin\": true\n}");
  EXPECT_EQ(Render("{{ u|tojson }} {{ u|tojson(ensure_ascii=true) }} {{ obj|tojson(sort_keys=true) }} "
                   "{{ arr|tojson(separators=(',', ':')) }} {{ nul|tojson }} {{ missing|tojson }} "
                   "{{ [fl, f]|tojson }} {{ []|tojson(indent=2) }} {{ 'a\\tb\"c'|tojson }}",
                   kData),
            "\"h\xC3\xA9llo \xF0\x9F\x98\x80\" \"h\\u00e9llo \\ud83d\\ude00\" "
            "{\"10\": 3, \"2\": 4, \"a\": 2, \"b\": 1} [3,1,2] null null [3, 2.5] [] "
            "\"a\\tb\\\"c\"");
  EXPECT_EQ(Render("{{ [[1, {'a': []}]]|tojson(indent=1) }}"), "[\n [\n  1,\n  {\n   \"a\": []\n  }\n ]\n]");
}

TEST(ChatTemplateTestsTest, BuiltinTests) {
  EXPECT_EQ(Render("{{ n is odd }} {{ n is even }} {{ s is string }} {{ n is number }} "
                   "{{ f is integer }} {{ arr is iterable }} {{ s is iterable }} {{ obj is iterable }} "
                   "{{ obj is mapping }} {{ arr is sequence }} {{ nul is none }} {{ nul is not none }} "
                   "{{ missing is defined }} {{ missing is undefined }} {{ b is boolean }} "
                   "{{ b is true }} {{ b is false }} {{ 'abc' is lower }} {{ 'ABC' is upper }} "
                   "{{ n is eq(7) }} {{ 2 is in(arr) }} {{ 9 is divisibleby(3) }} {{ range is callable }}",
                   kData),
            "true false true true false true true false true true true false false true true "
            "true false true true true true true true");
}

TEST(ChatTemplateUndefinedTest, UndefinedIsEmptyAndFalsy) {
  EXPECT_EQ(Render("[{{ missing }}][{{ missing.attr.deeper }}][{% if missing %}T{% else %}F"
                   "{% endif %}][{{ nul.x }}][{{ people[10] }}][{{ people[10].name }}][{{ n.foo }}]",
                   kData),
            "[][][F][][][][]");
  EXPECT_EQ(Render("{{ missing + 1 }}"), "ERROR: line 1: Cannot perform operation + on undefined values");
  EXPECT_EQ(Render("{{ missing|length }}"),
            "ERROR: line 1: Cannot apply filter \"length\" to type: UndefinedValue");
  EXPECT_EQ(Render("{{ missing[0] }}"),
            "ERROR: line 1: Cannot access property with non-string: got IntegerValue");
}

TEST(ChatTemplateWhitespaceTest, TrimAndLstripBlocks) {
  EXPECT_EQ(Render("A  \n  {% if true %}\n  B\n  {% endif %}\nC\n"), "A  \n  B\nC");
  EXPECT_EQ(Render("{% for x in [1, 2] %}\n  {{ x }}\n{% endfor %}\nend"), "  1\n  2\nend");
  EXPECT_EQ(Render("  {{ 'kept' }}\n\t{% set q = 1 %}\nafter"), "  kept\nafter");
  // trim_blocks removes only a bare "\n": a "\r\n" after a tag stays (here, its "\r").
  EXPECT_EQ(Render("A\r\n  {% if true %}\r\nB\r\n  {%- endif %}\r\n"), "A\r\n\r\nB\r");
}

TEST(ChatTemplateWhitespaceTest, DashMarkersAndComments) {
  EXPECT_EQ(Render("a  {{- ' e ' -}}  b"), "a e b");
  EXPECT_EQ(Render("a \n {%- if true -%} \n b \n {%- endif -%} \n c"), "abc");
  EXPECT_EQ(Render("a  {#- note -#}  b\n  {# other #}\nc"), "ab\nc");
  EXPECT_EQ(Render("x\xC2\xA0 {%- if true %}y{% endif %}"), "xy");  // NBSP is whitespace
  EXPECT_EQ(Render("100%}\nline"), "100%}line");  // trim_blocks works on raw text too
}

TEST(ChatTemplateContextTest, KeyOrderAndClock) {
  absl::StatusOr<ChatTemplate> tmpl = ChatTemplate::Parse("{{ d|tojson }}");
  ASSERT_TRUE(tmpl.ok());
  const std::string doc = R"({"d": {"type": "object", "properties": {}, "required": []}})";
  EXPECT_EQ(*tmpl->Render(OrderedJson::parse(doc)),
            "{\"type\": \"object\", \"properties\": {}, \"required\": []}");
  // nlohmann::json sorts keys, so document order is lost with it.
  EXPECT_EQ(*tmpl->Render(nlohmann::json::parse(doc)),
            "{\"properties\": {}, \"required\": [], \"type\": \"object\"}");
  // 2024-07-04 13:05:00 UTC.
  EXPECT_EQ(Render("{{ strftime_now('%d %b %Y %H:%M %B %m %% %j') }}",
                   R"({"__brisk_now__": 1720098300})"),
            "04 Jul 2024 13:05 July 07 % %j");
  EXPECT_EQ(Render("{{ x }}", R"({"range": 1})"), "ERROR: Variable already declared: range");
  EXPECT_EQ(Render("{{ x }}", "[1]"), "ERROR: chat template context must be a JSON object");
  EXPECT_EQ(Render("{{ x }}", "null"), "");
}

TEST(ChatTemplateErrorTest, SyntaxErrorsNameTheLine) {
  EXPECT_EQ(Render("a\nb\n{{ x "), "ERROR: line 3: unexpected end of template inside a tag");
  EXPECT_EQ(Render("line\n{% if x %}\nno end"),
            "ERROR: line 3: unexpected end of template, expected {% endif %}");
  EXPECT_EQ(Render("\n\n{% frobnicate %}"), "ERROR: line 3: unknown statement 'frobnicate'");
  EXPECT_EQ(Render("{{ 'open }}"), "ERROR: line 1: unterminated string literal");
  EXPECT_EQ(Render("\n{{ a ! b }}"), "ERROR: line 2: unexpected character '!'");
  EXPECT_EQ(Render("{# never closed"), "ERROR: line 1: missing end of comment tag '#}'");
  EXPECT_EQ(Render("{{ f(a=1, 2) }}"), "ERROR: line 1: positional argument follows keyword argument");
  EXPECT_EQ(Render("{{ 'a\\q' }}"), "ERROR: line 1: unexpected escaped character 'q'");
}

TEST(ChatTemplateErrorTest, RuntimeErrorsNameTheLine) {
  EXPECT_EQ(Render("ok\n{% if true %}\n{{ raise_exception('Bad role: ' ~ 'tool') }}\n{% endif %}"),
            "ERROR: line 3: Bad role: tool");
  EXPECT_EQ(Render("x\n{% for i in 5 %}{% endfor %}"),
            "ERROR: line 2: Expected iterable or object type in for loop: got IntegerValue");
  EXPECT_EQ(Render("{% set x = 1 %}\n\n{{ x|nosuch }}"), "ERROR: line 3: Unknown NumericValue filter: nosuch");
  EXPECT_EQ(Render("{{ 'a' < 'b' }}"),
            "ERROR: line 1: Unknown operator \"<\" between StringValue and StringValue");
  EXPECT_EQ(Render("{% set x.y = 1 %}"), "ERROR: line 1: cannot assign attribute on non-namespace object");
  EXPECT_EQ(Render("{{ (1, 2) }}"), "ERROR: line 1: Cannot convert to JSON: TupleValue");
  EXPECT_EQ(Render("{{ nope() }}"),
            "ERROR: line 1: Cannot call something that is not a function: got UndefinedValue");
  EXPECT_EQ(Render("a\n\n{% continue %}"), "ERROR: line 3: 'break' or 'continue' outside a loop");
}

TEST(ChatTemplateLimitTest, RunawayTemplatesStopWithAnError) {
  EXPECT_EQ(Render("{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}"),
            "ERROR: line 1: template recursion is too deep");
  // The default budget (10M steps) takes about a second; a smaller one keeps the test short.
  absl::StatusOr<ChatTemplate> bomb = ChatTemplate::Parse(
      "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}");
  ASSERT_TRUE(bomb.ok());
  absl::StatusOr<std::string> out = bomb->Render(OrderedJson::object(), {.max_steps = 200'000});
  EXPECT_EQ(out.status().message(), "line 1: template takes too many steps to render");
  // Quadratic copying of a large string is charged by size.
  EXPECT_EQ(Render("{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(16) %}"
                   "{% set ns.s = ns.s + ns.s %}{% endfor %}{% for i in range(100000) %}"
                   "{% set t = ns.s %}{% endfor %}"),
            "ERROR: line 1: template takes too many steps to render");
  EXPECT_EQ(Render("{{ range(100000000) }}"), "ERROR: line 1: range() is too long");
  EXPECT_EQ(Render("{% set ns = namespace(s='xxxxxxxxxxxxxxxx') %}{% for i in range(40) %}"
                   "{% set ns.s = ns.s + ns.s %}{% endfor %}"),
            "ERROR: line 1: string is too long");
  EXPECT_EQ(Render("{% set ns = namespace() %}{% set ns.me = ns %}{{ ns }}"),
            "ERROR: line 1: value nesting is too deep (more than 512 levels)");
  // A cycle that renders fine (and is freed afterwards; the sanitizer build checks that).
  EXPECT_EQ(Render("{% set ns = namespace(l=[]) %}{% set ns.me = ns %}{% set l = [1] %}"
                   "{{ l.append(l) }}{{ l|length }}{{ ns.me.me.l }}"),
            "2[]");
  EXPECT_EQ(Render("{{ " + std::string(300, '(') + "1" + std::string(300, ')') + " }}"),
            "ERROR: line 1: template nesting is too deep");
}

// Random token soup must parse or fail cleanly, and render or fail cleanly, never crash.
TEST(ChatTemplateLimitTest, RandomTemplatesNeverCrash) {
  const std::vector<std::string> pieces = {
      "{{", "}}", "{%", "%}", "{%-", "-%}", "{#", "#}", "if", "else", "endif", "for", "in",
      "endfor", "set", "=", "x", "ns", "loop", ".", "index", "(", ")", "[", "]", "{", "}", ",",
      ":", "|", "trim", "length", "tojson", "+", "-", "*", "/", "//", "%", "**", "~", "==", "<",
      "not", "and", "or", "is", "defined", "'s'", "\"t\"", "1", "2.5", "-3", "none", "macro",
      "endmacro", "call", "endcall", "caller", "range", "namespace", "\n", " ", "  ", "text",
      "break", "continue", "elif", "items", "raise_exception", "[::-1]", "messages", "\\"};
  std::mt19937 rng(1234);
  std::uniform_int_distribution<size_t> pick(0, pieces.size() - 1);
  std::uniform_int_distribution<int> length(1, 40);
  const auto context = OrderedJson::parse(R"({"messages": [{"role": "user", "content": "hi"}],
                                              "x": [1, 2], "ns": {"a": 1}})");
  int parsed = 0;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string source;
    for (int i = length(rng); i > 0; --i) source += pieces[pick(rng)] + " ";
    absl::StatusOr<ChatTemplate> tmpl = ChatTemplate::Parse(source);
    if (!tmpl.ok()) {
      ASSERT_TRUE(absl::IsInvalidArgument(tmpl.status())) << source;
      ASSERT_EQ(tmpl.status().message().substr(0, 5), "line ") << source;
      continue;
    }
    ++parsed;
    absl::StatusOr<std::string> out = tmpl->Render(context);
    if (!out.ok()) {
      ASSERT_TRUE(absl::IsInvalidArgument(out.status())) << source;
      ASSERT_EQ(out.status().message().substr(0, 5), "line ") << source;
    }
  }
  EXPECT_GT(parsed, 100);  // the soup must exercise rendering, not only the parser
}

class LoadChatTemplateConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("brisk_chat_template_test_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void Write(const std::string& name, const std::string& text) {
    std::filesystem::create_directories((dir_ / name).parent_path());
    std::ofstream(dir_ / name, std::ios::binary) << text;
  }
  std::filesystem::path dir_;
};

TEST_F(LoadChatTemplateConfigTest, ReadsTemplateAndSpecialTokens) {
  Write("tokenizer_config.json", R"({"chat_template": "{{ bos_token }}hi",
      "bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": false},
      "eos_token": "</s>", "pad_token": null, "additional_special_tokens": ["<a>", {"content": "<b>"}]})");
  absl::StatusOr<ChatTemplateConfig> config = LoadChatTemplateConfig(dir_.string());
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->template_source, "{{ bos_token }}hi");
  EXPECT_EQ(config->special_tokens,
            nlohmann::json::parse(R"({"bos_token": "<s>", "eos_token": "</s>",
                                      "additional_special_tokens": ["<a>", "<b>"]})"));
}

TEST_F(LoadChatTemplateConfigTest, NamedTemplatesAndFilesBeside) {
  Write("tokenizer_config.json", R"({"chat_template": [
      {"name": "default", "template": "D"}, {"name": "tool_use", "template": "T"}]})");
  EXPECT_EQ(LoadChatTemplateConfig(dir_.string())->template_source, "D");
  EXPECT_EQ(LoadChatTemplateConfig(dir_.string(), "tool_use")->template_source, "T");
  absl::StatusOr<ChatTemplateConfig> missing = LoadChatTemplateConfig(dir_.string(), "rag");
  EXPECT_TRUE(absl::IsNotFound(missing.status()));
  EXPECT_NE(missing.status().message().find("available: default, tool_use"), std::string::npos);
  Write("chat_template.json", R"({"chat_template": "J"})");
  EXPECT_EQ(LoadChatTemplateConfig(dir_.string())->template_source, "J");
  Write("chat_template.jinja", "F");
  EXPECT_EQ(LoadChatTemplateConfig(dir_.string())->template_source, "F");
  Write("additional_chat_templates/rag.jinja", "R");
  EXPECT_EQ(LoadChatTemplateConfig(dir_.string(), "rag")->template_source, "R");
}

TEST_F(LoadChatTemplateConfigTest, ErrorsForMissingOrMalformedConfigs) {
  EXPECT_TRUE(absl::IsNotFound(LoadChatTemplateConfig(dir_.string()).status()));
  Write("tokenizer_config.json", "{not json");
  EXPECT_TRUE(absl::IsInvalidArgument(LoadChatTemplateConfig(dir_.string()).status()));
  Write("tokenizer_config.json", R"({"chat_template": 5})");
  EXPECT_TRUE(absl::IsInvalidArgument(LoadChatTemplateConfig(dir_.string()).status()));
  Write("tokenizer_config.json", R"({"chat_template": "x", "bos_token": 3})");
  EXPECT_TRUE(absl::IsInvalidArgument(LoadChatTemplateConfig(dir_.string()).status()));
}

}  // namespace
}  // namespace brisk::tokenizer
