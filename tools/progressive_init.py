#!/usr/bin/env python3
"""Progressive seed: carry a searched long set from scale s to scale t (lambda' = lambda^(ln t / ln s), so 1 stays 1
and s becomes t) and its attention factor by YaRN's 0.1 ln(t/s) step. Usage: tools/progressive_init.py IN.json TARGET_LEN OUT.json"""
import json, math, sys
if len(sys.argv) != 4 or not sys.argv[2].isdigit():
    sys.exit("usage: tools/progressive_init.py IN.json TARGET_LEN OUT.json")
src, target, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
f = json.load(open(src))
s = f["context_length"] / f["original_context_length"]
t = target / f["original_context_length"]
if s <= 1 or t <= 1:
    sys.exit(f"progressive_init.py: {src} is made for scale {s:g} and the target is scale {t:g}: both must be above 1")
p = math.log(t) / math.log(s)
f["long_factors"] = [round(x ** p, 2) for x in f["long_factors"]]
f["context_length"], f["scale"] = target, t
f["source"] = f"carried from {src} (scale {s:g}) to scale {t:g} by tools/progressive_init.py; before: {f.get('source', '')}"
f["attention_factor"] = {"policy": "explicit", "value": round(f["attention_factor"]["value"] + 0.1 * math.log(t / s), 2)}
json.dump(f, open(out, "w"), indent=2)
print(out, f["long_factors"], f["attention_factor"])
