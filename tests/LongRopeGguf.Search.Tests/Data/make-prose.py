#!/usr/bin/env python3
"""Extracts English documentation prose from a .NET reference-assembly IntelliSense XML file (summary and remarks of
every member, cross-references written as the name they point to), ASCII only, one paragraph per member.

Usage: make-prose.py XML_FILE MAX_CHARS > out.txt
The prose files next to this script were made from the Microsoft.NETCore.App.Ref 10.0.12 targeting pack
(/usr/share/dotnet/packs/Microsoft.NETCore.App.Ref/10.0.12/ref/net10.0/): see README.md here.
"""
import sys
import xml.etree.ElementTree as ET


def render(e):
    out = []
    if e.text:
        out.append(e.text)
    for child in e:
        if child.tag in ("see", "seealso"):
            ref = child.get("cref") or child.get("langword") or child.get("href") or ""
            name = ref.split(":")[-1].split("(")[0].split(".")[-1].split("`")[0]
            out.append("".join(child.itertext()) or name)
        elif child.tag in ("paramref", "typeparamref"):
            out.append(child.get("name", ""))
        else:
            out.append(render(child))
        if child.tail:
            out.append(child.tail)
    return "".join(out)


def main():
    path, limit = sys.argv[1], int(sys.argv[2])
    paragraphs, total = [], 0
    for member in ET.parse(path).getroot().iter("member"):
        for tag in ("summary", "remarks"):
            e = member.find(tag)
            if e is None:
                continue
            text = " ".join(render(e).split()).encode("ascii", "ignore").decode()
            if len(text) < 40:
                continue
            paragraphs.append(text)
            total += len(text) + 1
        if total >= limit:
            break
    sys.stdout.write("\n".join(paragraphs)[:limit] + "\n")


main()
