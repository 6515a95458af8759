#!/usr/bin/python3
"""Writes pride-and-prejudice.txt beside this script from Debian 12's r-cran-janeaustenr package (1.0.0-1), without R.

    cd "$(mktemp -d)" && apt-get download r-cran-janeaustenr          # the .deb only; nothing is installed
    /usr/bin/python3 samples/CharLM/Data/extract_pride_and_prejudice.py r-cran-janeaustenr_1.0.0-1_all.deb

The package keeps its data in R's lazy-load database (data/Rdata.rdx: a gzipped index of offsets; data/Rdata.rdb: each
object serialised in R's XDR format and compressed). This reads the index, decompresses the object `prideprejudice` (a
character vector, one element per line of Project Gutenberg's text) and joins its lines with newlines. README.md beside
this script has the provenance and the checksums the result must have.
"""
import bz2, gzip, io, lzma, os, struct, subprocess, sys, tarfile, tempfile, zlib

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = "./usr/lib/R/site-library/janeaustenr/data/Rdata"


class Unserializer:
    """R's serialize() format, XDR (big-endian) version 2 or 3: just the types a lazy-load index and a character vector use."""

    def __init__(self, b):
        self.b, self.p, self.refs = b, 0, []
        assert b[:2] == b"X\n", "not an XDR serialisation"
        self.p = 2
        version = self.int(); self.int(); self.int()
        if version == 3:
            n = self.int()
            self.p += n  # the native encoding's name

    def int(self):
        v = struct.unpack(">i", self.b[self.p:self.p + 4])[0]; self.p += 4; return v

    def item(self):
        flags = self.int()
        t, has_attr, has_tag = flags & 0xFF, flags & (1 << 9), flags & (1 << 10)
        if t == 254: return None                                   # NILVALUE_SXP
        if t == 255:                                               # REFSXP
            i = flags >> 8
            return self.refs[(i or self.int()) - 1]
        if t == 1:                                                 # SYMSXP
            s = ("sym", self.item()); self.refs.append(s); return s
        if t == 9:                                                 # CHARSXP
            n = self.int()
            if n == -1: return None
            s = self.b[self.p:self.p + n].decode("utf-8"); self.p += n; return s
        if t == 2:                                                 # LISTSXP (pairlist)
            if has_attr: self.item()
            tag = self.item() if has_tag else None
            car, cdr = self.item(), self.item()
            return [(tag, car)] + (cdr or [])
        if t in (10, 13):                                          # LGLSXP, INTSXP
            v = [self.int() for _ in range(self.int())]
        elif t in (16, 19):                                        # STRSXP, VECSXP
            v = [self.item() for _ in range(self.int())]
        else:
            raise ValueError(f"R type {t} not handled at byte {self.p}")
        attrs = dict((tag[1], value) for tag, value in self.item()) if has_attr else {}
        return (v, attrs)


def value(x):
    return x[0] if isinstance(x, tuple) else x


def decompress(entry):
    """One .rdb entry: 4-byte length, then a compression tag byte ('Z', '2', 'X', '0') or a bare zlib stream."""
    tag = entry[4:5]
    if tag == b"Z": return zlib.decompress(entry[5:])
    if tag == b"2": return bz2.decompress(entry[5:])
    if tag == b"X": return lzma.decompress(entry[5:])
    if tag == b"0": return entry[5:]
    return zlib.decompress(entry[4:])


def member(deb, name):
    """A file of the .deb's data.tar.* (the .deb is an ar archive)."""
    with open(deb, "rb") as f:
        assert f.read(8) == b"!<arch>\n", f"{deb} is not a .deb (ar archive)"
        while header := f.read(60):
            fname, size = header[:16].decode().strip().rstrip("/"), int(header[48:58])
            body = f.read(size); f.read(size & 1)
            if fname.startswith("data.tar"):
                with tarfile.open(fileobj=io.BytesIO(body)) as tar:
                    return tar.extractfile(name).read()
    raise ValueError(f"{deb} has no data.tar")


def main():
    deb = sys.argv[1]
    index, attrs = Unserializer(gzip.decompress(member(deb, DATA + ".rdx"))).item()
    variables, var_attrs = dict(zip(value(attrs["names"]), index))["variables"]   # a named list of (offset, length)
    offset, length = value(dict(zip(value(var_attrs["names"]), variables))["prideprejudice"])
    rdb = member(deb, DATA + ".rdb")
    lines = value(Unserializer(decompress(rdb[offset:offset + length])).item())
    text = "\n".join(line or "" for line in lines) + "\n"
    with open(os.path.join(HERE, "pride-and-prejudice.txt"), "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    print(f"{len(lines)} lines, {len(text)} characters")


if __name__ == "__main__":
    main()
