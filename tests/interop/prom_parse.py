"""Parse Prometheus text exposition with the official client's parser.

usage: prom_parse.py FILE -> JSON [{"name","labels","value"}...]; fails on malformed text.
"""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

text = open(sys.argv[1]).read()
out = []
for family in text_string_to_metric_families(text):
    for s in family.samples:
        out.append({"name": s.name, "labels": s.labels, "value": s.value, "type": family.type})
print(json.dumps(out))
