#!/usr/bin/env python3
# Writes the demo embedder's vectors of every KJV verse, then every WEB verse, of
# data/embed/pairs.tsv (tools/prepare_embed_pairs.sh) as one raw little-endian float32 file,
# embedded through a running brisk server's /v1/embeddings (64 texts per request).
# Usage: embed_verses.py URL PAIRS_TSV OUT_F32   (prints rows and dimensions)
import array
import http.client
import json
import sys
import urllib.parse


def main():
    url, pairs, out_path = sys.argv[1:4]
    kjv, web = [], []
    with open(pairs, encoding="utf-8") as f:
        next(f)  # header
        for line in f:
            cols = line.rstrip("\n").split("\t")
            kjv.append(cols[4])
            web.append(cols[5])
    texts = kjv + web
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    dims = 0
    with open(out_path, "wb") as out:
        for start in range(0, len(texts), 64):
            body = json.dumps({"model": "brisk-tiny-embed", "input": texts[start:start + 64]})
            conn.request("POST", "/v1/embeddings", body=body,
                         headers={"Content-Type": "application/json"})
            resp = conn.getresponse()
            data = json.loads(resp.read())
            if resp.status != 200:
                sys.exit(f"embedding failed: {resp.status} {data}")
            for item in data["data"]:
                dims = len(item["embedding"])
                array.array("f", item["embedding"]).tofile(out)
    print(f"{len(texts)} rows of {dims} dimensions ({len(kjv)} KJV then {len(web)} WEB)")


if __name__ == "__main__":
    main()
