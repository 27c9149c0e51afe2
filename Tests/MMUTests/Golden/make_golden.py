#!/usr/bin/env python3
"""Builds paging-golden.jsonl: hand-designed walk cases for x86 guest paging (no EPT).

Each scenario below states, by hand, the result the SDM rule gives (result kind, error code,
physical address, page size, A/D writes). The scenario is then run through oracle.py and the two
must agree before the line is written; a disagreement stops the script. The written `expect` is the
oracle's result without `message`.

Deterministic: a fixed seed places page tables and picks linear addresses.

    python3 make_golden.py            # rewrites paging-golden.jsonl next to this file
"""

import json
import os
import random
import sys
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True   # leave no __pycache__ in the source tree
sys.path.insert(0, HERE)
import oracle  # noqa: E402

OUT = os.path.join(HERE, "paging-golden.jsonl")
rng = random.Random(0x5BECC0DE)

FULL = ["nx", "smep", "smap", "pku", "pks", "pdpe1gb", "la57", "pse", "pse36", "pge", "pcid"]
# Cases that set a PAT bit (bit 7 of a 4 KiB PTE, bit 12 of a large-page entry) also list `pat`:
# the SDM makes those bits reserved on a CPU without PAT.
WITH_PAT = FULL + ["pat"]
MODES = ["32bit", "pae", "4level", "5level"]
KINDS = ["read", "write", "fetch"]

# Entry bits.
P, RW, US, PWT, PCD, A, D, PS, G = 1, 2, 4, 8, 0x10, 0x20, 0x40, 0x80, 0x100
PAT_LARGE = 1 << 12
XD = 1 << 63
# Error-code bits.
EP, EW, EU, ER, EI, EK = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20
# Control bits.
CR0_WP = 1 << 16
CR4_PSE, CR4_PAE, CR4_PGE, CR4_LA57, CR4_PCIDE = 0x10, 0x20, 0x80, 1 << 12, 1 << 17
CR4_SMEP, CR4_SMAP, CR4_PKE, CR4_PKS = 1 << 20, 1 << 21, 1 << 22, 1 << 24
EFER_LME_LMA, EFER_NXE, EFER_SCE = 0x500, 0x800, 0x1
AC = 1 << 18

# Per-mode defaults: 32-bit paging with CR4.PSE, PAE with NXE, 4- and 5-level with NXE.
DEFAULT = {
    "32bit": dict(M=40, cr0=0x80010011, cr4=CR4_PSE, efer=0),
    "pae": dict(M=36, cr0=0x80010033, cr4=CR4_PAE, efer=EFER_NXE),
    "4level": dict(M=46, cr0=0x80010033, cr4=CR4_PAE, efer=EFER_SCE | EFER_LME_LMA | EFER_NXE),
    "5level": dict(M=52, cr0=0x80010033, cr4=CR4_PAE | CR4_LA57,
                   efer=EFER_SCE | EFER_LME_LMA | EFER_NXE),
}
# The I/D error-code bit a fetch gets under the defaults: 32-bit paging has CR4.PAE=0 and no
# SMEP, so none; the others have CR4.PAE=1 and EFER.NXE=1.
IDF = {"32bit": 0, "pae": EI, "4level": EI, "5level": EI}

# (name, linear shift, index bits, entry bytes), top level first.
LEVELS = {
    "32bit": [("pde", 22, 10, 4), ("pte", 12, 10, 4)],
    "pae": [("pdpte", 30, 2, 8), ("pde", 21, 9, 8), ("pte", 12, 9, 8)],
    "4level": [("pml4e", 39, 9, 8), ("pdpte", 30, 9, 8), ("pde", 21, 9, 8), ("pte", 12, 9, 8)],
}
LEVELS["5level"] = [("pml5e", 48, 9, 8)] + LEVELS["4level"]
NONLEAF_TOP = {"32bit": [], "pae": [], "4level": ["pml4e"], "5level": ["pml5e", "pml4e"]}


def rbits(hi, lo):
    return ((1 << (hi - lo + 1)) - 1) << lo if hi >= lo else 0


def random_linear(mode):
    if mode in ("32bit", "pae"):
        return rng.getrandbits(32)
    width = 48 if mode == "4level" else 57
    v = rng.getrandbits(width)
    if v >> (width - 1):
        v |= ((1 << 64) - 1) ^ ((1 << width) - 1)
    return v


class Chain:
    """One paging structure per level for one linear address, each holding the one entry used.

    Entries point at the next table with P|R/W|U/S (PAE PDPTEs: P only, their bits 2:1 are
    reserved); the leaf maps `leaf_pa` with P|R/W|U/S (and PS when it is a large page)."""

    def __init__(self, mode, leaf="pte", M=None, linear=None, leaf_pa=None, place="low",
                 pse36=True, bases=None):
        self.mode = mode
        self.M = M or DEFAULT[mode]["M"]
        names = [n for n, *_ in LEVELS[mode]]
        self.levels = LEVELS[mode][: names.index(leaf) + 1]
        self.leaf = leaf
        self.page_size = {"pte": 1 << 12, "pde": (1 << 22) if mode == "32bit" else (1 << 21),
                          "pdpte": 1 << 30}[leaf]
        self.linear = random_linear(mode) if linear is None else linear
        self.bases = bases or self.pick_tables(place)
        if leaf_pa is None:
            if mode == "32bit":
                limit = 1 << (min(self.M, 40) if (leaf == "pde" and pse36) else 32)
            else:
                limit = 1 << self.M
            leaf_pa = rng.randrange(0, limit, self.page_size)
        self.leaf_pa = leaf_pa
        self.addrs, self.values = [], []
        for i, (name, shift, nbits, esize) in enumerate(self.levels):
            index = (self.linear >> shift) & ((1 << nbits) - 1)
            self.addrs.append(self.bases[i] + index * esize)
            if i + 1 < len(self.levels):
                flags = P if (mode == "pae" and name == "pdpte") else P | RW | US
                self.values.append(self.bases[i + 1] | flags)
            else:
                self.values.append(self.encode_leaf(leaf_pa) | P | RW | US)
        self.extra = {}
        if mode == "pae":
            # The three PDPTEs not used by this access are present and valid (they point at
            # page directories nobody reads).
            pdpt = self.bases[0]
            for i in range(4):
                if pdpt + 8 * i != self.addrs[0]:
                    self.extra[pdpt + 8 * i] = rng.randrange(0x10000, 1 << 32, 0x1000) | P

    def encode_leaf(self, pa):
        if self.leaf == "pte":
            return pa
        if self.mode == "32bit":       # PSE-36: PA bits 39:32 go to PDE bits 20:13
            return (pa & 0xFFC00000) | ((pa >> 32) << 13) | PS
        return pa | PS

    def pick_tables(self, place):
        n = len(self.levels)
        used = set()
        out = []
        for i in range(n):
            while True:
                if self.mode == "32bit" or (self.mode == "pae" and i == 0) or place == "low":
                    page = rng.randrange(0x1000, 0x4000000, 0x1000)
                elif self.mode == "pae":   # page directories / tables above 4 GiB
                    page = rng.randrange(1 << 32, 1 << self.M, 0x1000)
                else:                      # near the top of the physical address space
                    page = rng.randrange(1 << (self.M - 1), 1 << self.M, 0x1000)
                if page not in used:
                    used.add(page)
                    break
            if self.mode == "pae" and i == 0:
                page += rng.randrange(0, 0x1000, 32)   # CR3 bits 31:5: 32-byte aligned PDPT
            out.append(page)
        return out

    # -- edits --------------------------------------------------------------------------------
    def idx(self, name):
        return [n for n, *_ in self.levels].index(name)

    def set(self, name, on=0, off=0):
        i = self.idx(name)
        self.values[i] = (self.values[i] | on) & ~off
        return self

    def set_all(self, on=0, off=0, skip_pdpte=True):
        for name, *_ in self.levels:
            if self.mode == "pae" and name == "pdpte" and skip_pdpte:
                continue
            self.set(name, on, off)
        return self

    # -- memory -------------------------------------------------------------------------------
    def words(self):
        w = dict(self.extra)
        for (name, _, _, esize), addr, value in zip(self.levels, self.addrs, self.values):
            put(w, addr, value, esize)
        return w

    def physical(self):
        return self.leaf_pa | (self.linear & (self.page_size - 1))

    def ad_writes(self, kind):
        """By hand: A in every entry used except PAE PDPTEs, D in the leaf on a write."""
        before = self.words()
        after = dict(before)
        last = len(self.levels) - 1
        for i, ((name, _, _, esize), addr) in enumerate(zip(self.levels, self.addrs)):
            if self.mode == "pae" and name == "pdpte":
                continue
            flags = A | (D if (i == last and kind == "write") else 0)
            put(after, addr, get(after, addr, esize) | flags, esize)
        return {hex(a): hex(after[a]) for a in sorted(after) if after[a] != before.get(a, 0)}


def put(words, addr, value, esize):
    if esize == 8:
        words[addr] = value
    else:
        word = words.get(addr & ~7, 0)
        if addr & 4:
            word = (word & 0xFFFFFFFF) | (value << 32)
        else:
            word = (word & ~0xFFFFFFFF) | value
        words[addr & ~7] = word


def get(words, addr, esize):
    word = words.get(addr & ~7, 0)
    if esize == 8:
        return word
    return (word >> 32) & 0xFFFFFFFF if addr & 4 else word & 0xFFFFFFFF


# ---------------------------------------------------------------------------------------------
# Emitting cases.

CASES = []
GROUPS = Counter()
SEEN = set()


def hx(v):
    return hex(v)


def emit(cid, reason, ch=None, *, group=None, kind="read", cpl=0, implicit=None, cr0=None,
         cr4=None, efer=None, cr3=None, rflags=None, pkru=None, pkrs=None, features=None,
         M=None, linear=None, memory=None, want="ok", case=None):
    """Adds one case. `want`: "ok" (physical/size/writes from the chain), ("ok", phys, size,
    writes), ("pf", error_code), "gp" or "invalid"."""
    assert cid not in SEEN, cid
    SEEN.add(cid)
    if case is None:
        mode = ch.mode if ch else group
        d = DEFAULT[mode]
        regs = {"cr0": hx(d["cr0"] if cr0 is None else cr0),
                "cr3": hx((ch.bases[0] if ch else 0x1000) if cr3 is None else cr3),
                "cr4": hx(d["cr4"] if cr4 is None else cr4),
                "efer": hx(d["efer"] if efer is None else efer)}
        if rflags is not None:
            regs["rflags"] = hx(rflags)
        if pkru is not None:
            regs["pkru"] = hx(pkru)
        if pkrs is not None:
            regs["ia32_pkrs"] = hx(pkrs)
        words = ch.words() if memory is None else memory
        acc = {"linear": hx(ch.linear if linear is None else linear), "kind": kind, "cpl": cpl}
        if implicit is not None:
            acc["implicit"] = implicit
        case = {"id": cid,
                "maxphyaddr": (ch.M if ch else d["M"]) if M is None else M,
                "features": FULL if features is None else features,
                "regs": regs,
                "memory": {hx(a): hx(v) for a, v in sorted(words.items())},
                "access": acc}
        group = group or mode
    else:
        case = {"id": cid, **{k: v for k, v in case.items() if k != "id"}}
    # The hand-derived expectation.
    if want == "ok":
        want = ("ok", ch.physical(), ch.page_size, ch.ad_writes(kind))
    if want == "gp":
        hand = {"id": cid, "result": "general-protection"}
    elif want == "invalid":
        hand = {"id": cid, "result": "invalid"}
    elif want[0] == "pf":
        hand = {"id": cid, "result": "page-fault", "error_code": hx(want[1]), "writes": {}}
    else:
        _, phys, size, writes = want
        hand = {"id": cid, "result": "ok", "physical": hx(phys), "page_size": size,
                "writes": writes}
    got = oracle.strip_message(oracle.run(case))
    if got != hand:
        sys.exit(f"hand expectation and oracle disagree on {cid}:\n hand   {hand}\n oracle {got}")
    rec = dict(case)
    rec["reason"] = reason
    rec["expect"] = got
    CASES.append(rec)
    GROUPS[group] += 1


def who(cpl, implicit=False):
    if implicit:
        return f"implicit supervisor (CPL {cpl})"
    return "user (CPL 3)" if cpl == 3 else f"supervisor (CPL {cpl})"


def leaf_desc(ch):
    return {4096: "4 KiB page", 2 << 20: "2 MiB page", 4 << 20: "4 MiB page",
            1 << 30: "1 GiB page"}[ch.page_size]


def ad_text(ch, kind):
    t = "A set in every entry used"
    if ch.mode == "pae":
        t += " except the PDPTE (no A bit)"
    if kind == "write":
        t += ", D set in the leaf"
    return t


# ---------------------------------------------------------------------------------------------
# Families that apply to every paging mode.


def basic_success():
    for mode in MODES:
        for kind in KINDS:
            for cpl in (0, 3):
                ch = Chain(mode)
                emit(f"{mode}-ok-user-page-{kind}-cpl{cpl}",
                     f"{who(cpl)} {kind} of a user, writable, executable {leaf_desc(ch)} "
                     f"(no SMEP/SMAP) is allowed; {ad_text(ch, kind)}", ch, kind=kind, cpl=cpl)
            ch = Chain(mode).set("pte", off=US)
            emit(f"{mode}-ok-supervisor-page-{kind}-cpl0",
                 f"supervisor {kind} of a supervisor page (leaf U/S=0) is allowed; "
                 f"{ad_text(ch, kind)}", ch, kind=kind)
        # Page tables placed high in physical memory (above 4 GiB for PAE).
        if mode != "32bit":
            for kind in ("read", "write"):
                ch = Chain(mode, place="high")
                emit(f"{mode}-ok-tables-high-{kind}",
                     f"paging structures near the top of the {ch.M}-bit physical space are "
                     f"followed like any other; {ad_text(ch, kind)}", ch, kind=kind, cpl=3)


def accessed_dirty():
    for mode in MODES:
        top = LEVELS[mode][0][0]
        ch = Chain(mode).set_all(on=A)
        emit(f"{mode}-ad-all-accessed-read", "every entry already has A=1: a read writes nothing",
             ch)
        ch = Chain(mode).set_all(on=A)
        emit(f"{mode}-ad-accessed-write-sets-only-dirty",
             "every entry already has A=1 and the leaf D=0: a write changes only the leaf (D)",
             ch, kind="write", cpl=3)
        ch = Chain(mode).set_all(on=A).set("pte", on=D)
        emit(f"{mode}-ad-write-already-dirty", "A=1 everywhere and D=1 in the leaf: a write "
             "writes nothing", ch, kind="write")
        ch = Chain(mode).set_all(on=A).set("pte", off=A)
        emit(f"{mode}-ad-only-leaf-accessed-clear", "only the leaf has A=0: a fetch sets A in "
             "the leaf and nothing else (no D on a fetch)", ch, kind="fetch")
        if mode != "pae":
            ch = Chain(mode).set(top, on=A)
            emit(f"{mode}-ad-top-accessed-write", f"the {top.upper()} already has A=1: a write "
                 "sets A in the lower entries and A|D in the leaf", ch, kind="write")
        # Bit 6 of a non-leaf entry is ignored (not D, not reserved); the walk leaves it alone.
        if mode == "pae":
            ch = Chain(mode).set("pde", on=D)
            emit(f"{mode}-ad-nonleaf-pde-bit6-ignored", "bit 6 of a PAE PDE that references a "
                 "page table is ignored: the walk succeeds and a write sets D only in the PTE",
                 ch, kind="write")
        else:
            ch = Chain(mode).set(top, on=D)
            emit(f"{mode}-ad-nonleaf-bit6-ignored", f"bit 6 of the {top.upper()} (a non-leaf "
                 "entry) is ignored: the walk succeeds and a write sets D only in the leaf",
                 ch, kind="write")
        # Large page: D goes into the large-page leaf.
        leaf = "pde"
        ch = Chain(mode, leaf=leaf)
        emit(f"{mode}-ad-large-page-write-dirty", f"a write through a {leaf_desc(ch)} sets A|D in "
             f"the PDE that maps it; {ad_text(ch, 'write')}", ch, kind="write")


def not_present():
    for mode in MODES:
        idf = IDF[mode]
        for name, *_ in LEVELS[mode]:
            for kind, cpl, ec, text in (
                    ("read", 0, 0x0, "supervisor read: P=0, W=0, U=0"),
                    ("write", 3, EW | EU, "user write: W|U"),
                    ("fetch", 0, idf, "supervisor fetch: I/D " +
                     ("only with SMEP or PAE+NXE (32-bit paging: 0)" if mode == "32bit"
                      else "set (CR4.PAE=1, EFER.NXE=1)")),
                    ("fetch", 3, EU | idf, "user fetch: U" + ("|I/D" if idf else ""))):
                ch = Chain(mode)
                if mode == "pae" and name == "pdpte":
                    ch.values[0] = 0     # not-present PDPTE register
                else:
                    ch.set(name, off=P)
                emit(f"{mode}-np-{name}-{kind}-cpl{cpl}",
                     f"{name.upper()} not present: #PF with P=0; {text}", ch, kind=kind, cpl=cpl,
                     want=("pf", ec))
        # Reserved bits in a not-present entry are ignored: still a not-present fault.
        ch = Chain(mode)
        junk = 0xFFFFFFFE if mode == "32bit" else 0xFFF0_0000_0000_00FE
        ch.values[ch.idx("pte")] = junk
        emit(f"{mode}-np-pte-reserved-bits-ignored", "a PTE with P=0 has every other bit set; "
             "reserved bits are not checked in a not-present entry, so P=0 and RSVD=0",
             ch, kind="write", want=("pf", EW))
        # A not-present fault in a lower level wins over a rights problem higher up.
        ch = Chain(mode).set("pde", off=US).set("pte", off=P)
        emit(f"{mode}-np-pte-under-supervisor-pde", "PDE U/S=0 but the PTE is not present: "
             "the walk stops at the PTE before rights are checked; user read gives U only",
             ch, cpl=3, want=("pf", EU))


def rights():
    for mode in MODES:
        idf = IDF[mode]
        names = [n for n, *_ in LEVELS[mode] if not (mode == "pae" and n == "pdpte")]
        for name in names:
            ch = Chain(mode).set(name, off=US)
            emit(f"{mode}-us-{name}-user-read", f"U/S=0 in the {name.upper()} makes the page "
                 "supervisor (U/S is ANDed over the levels): user read faults with P|U",
                 ch, cpl=3, want=("pf", EP | EU))
            ch = Chain(mode).set(name, off=RW)
            emit(f"{mode}-rw-{name}-user-write", f"R/W=0 in the {name.upper()} makes the page "
                 "read-only (R/W is ANDed): user write faults with P|W|U",
                 ch, kind="write", cpl=3, want=("pf", EP | EW | EU))
        ch = Chain(mode).set("pte", off=US)
        emit(f"{mode}-us-pte-user-write", "user write to a supervisor page: P|W|U", ch,
             kind="write", cpl=3, want=("pf", EP | EW | EU))
        ch = Chain(mode).set("pte", off=US)
        emit(f"{mode}-us-pte-user-fetch", "user fetch from a supervisor page: P|U" +
             ("|I/D" if idf else " (32-bit paging without SMEP: no I/D)"), ch, kind="fetch",
             cpl=3, want=("pf", EP | EU | idf))
        ch = Chain(mode).set("pde", off=RW)
        emit(f"{mode}-rw-pde-user-read", "R/W=0 does not restrict reads: user read of a "
             "read-only page succeeds", ch, cpl=3)
        ch = Chain(mode).set("pte", off=RW)
        emit(f"{mode}-rw-supervisor-write-wp1", "supervisor write to a read-only page with "
             "CR0.WP=1 faults with P|W", ch, kind="write", want=("pf", EP | EW))
        cr0 = DEFAULT[mode]["cr0"] & ~CR0_WP
        ch = Chain(mode).set("pde", off=RW)
        emit(f"{mode}-rw-supervisor-write-wp0", "supervisor write to a read-only page with "
             "CR0.WP=0 is allowed; " + ad_text(ch, "write"), ch, kind="write", cr0=cr0)
        ch = Chain(mode).set("pte", off=RW | US)
        emit(f"{mode}-rw-supervisor-write-wp0-supervisor-page", "CR0.WP=0: supervisor write to "
             "a read-only supervisor page is allowed", ch, kind="write", cr0=cr0)
        ch = Chain(mode).set("pte", off=RW)
        emit(f"{mode}-rw-user-write-wp0", "CR0.WP=0 does not help user writes: user write to a "
             "read-only page faults with P|W|U", ch, kind="write", cpl=3, cr0=cr0,
             want=("pf", EP | EW | EU))
        for cpl in (1, 2):
            ch = Chain(mode).set("pte", off=US)
            emit(f"{mode}-us-cpl{cpl}-is-supervisor", f"CPL {cpl} is supervisor mode: reading a "
                 "supervisor page succeeds", ch, cpl=cpl)
        ch = Chain(mode).set("pte", off=RW)
        emit(f"{mode}-rw-cpl2-write-wp1", "CPL 2 is supervisor mode: a write to a read-only "
             "page with CR0.WP=1 faults with P|W (no U)", ch, kind="write", cpl=2,
             want=("pf", EP | EW))
        ch = Chain(mode).set("pte", off=RW).set("pde", off=US)
        emit(f"{mode}-rights-folded-user-write-both", "PDE U/S=0 and PTE R/W=0: user write "
             "faults once, error code P|W|U", ch, kind="write", cpl=3, want=("pf", EP | EW | EU))
        # Large-page leaf rights.
        ch = Chain(mode, leaf="pde").set("pde", off=US)
        emit(f"{mode}-us-large-page-user-read", f"user read of a supervisor {leaf_desc(ch)} "
             "faults with P|U", ch, cpl=3, want=("pf", EP | EU))
        ch = Chain(mode, leaf="pde").set("pde", off=RW)
        emit(f"{mode}-rw-large-page-user-write", f"user write to a read-only {leaf_desc(ch)} "
             "faults with P|W|U", ch, kind="write", cpl=3, want=("pf", EP | EW | EU))


def execute_disable():
    for mode in ("pae", "4level", "5level"):
        names = [n for n, *_ in LEVELS[mode] if not (mode == "pae" and n == "pdpte")]
        for name in names:
            ch = Chain(mode).set(name, on=XD)
            emit(f"{mode}-xd-{name}-fetch-cpl0", f"XD=1 in the {name.upper()} (XD is ORed over "
                 "the levels) with EFER.NXE=1: supervisor fetch faults with P|I/D",
                 ch, kind="fetch", want=("pf", EP | EI))
        ch = Chain(mode).set("pte", on=XD)
        emit(f"{mode}-xd-pte-fetch-cpl3", "user fetch from an XD page: P|U|I/D", ch,
             kind="fetch", cpl=3, want=("pf", EP | EU | EI))
        ch = Chain(mode).set("pde", on=XD)
        emit(f"{mode}-xd-pde-read-ok", "XD does not restrict data reads", ch, cpl=3)
        ch = Chain(mode).set("pte", on=XD)
        emit(f"{mode}-xd-pte-write-ok", "XD does not restrict writes; " + ad_text(ch, "write"),
             ch, kind="write")
        ch = Chain(mode, leaf="pde").set("pde", on=XD)
        emit(f"{mode}-xd-large-page-fetch", f"fetch from an XD {leaf_desc(ch)}: P|I/D", ch,
             kind="fetch", want=("pf", EP | EI))
        # XD with EFER.NXE=0 is a reserved bit.
        efer = DEFAULT[mode]["efer"] & ~EFER_NXE
        for name in names:
            ch = Chain(mode).set(name, on=XD)
            emit(f"{mode}-xd-{name}-reserved-without-nxe", f"bit 63 of the {name.upper()} is "
                 "reserved when EFER.NXE=0: a read faults with P|RSVD", ch, efer=efer,
                 want=("pf", EP | ER))
        ch = Chain(mode).set("pte", on=XD)
        emit(f"{mode}-xd-reserved-without-nxe-fetch", "EFER.NXE=0: XD is reserved; a fetch "
             "gets P|RSVD and no I/D (CR4.SMEP=0 and NXE=0)", ch, kind="fetch", efer=efer,
             want=("pf", EP | ER))
        ch = Chain(mode)
        emit(f"{mode}-fetch-without-nxe-ok", "EFER.NXE=0 and no XD bits: every page is "
             "executable; " + ad_text(ch, "fetch"), ch, kind="fetch", cpl=3, efer=efer)


def smep():
    for mode in MODES:
        d = DEFAULT[mode]
        cr4 = d["cr4"] | CR4_SMEP
        ch = Chain(mode)
        emit(f"{mode}-smep-supervisor-fetch-user-page", "CR4.SMEP=1: supervisor fetch from a "
             "user page faults; P|I/D (SMEP alone sets I/D" +
             (", even in 32-bit paging)" if mode == "32bit" else ")"),
             ch, kind="fetch", cr4=cr4, want=("pf", EP | EI))
        ch = Chain(mode).set("pde", off=US)
        emit(f"{mode}-smep-supervisor-fetch-supervisor-page", "CR4.SMEP=1 and PDE U/S=0: the "
             "page is supervisor, so a supervisor fetch is allowed", ch, kind="fetch", cr4=cr4)
        ch = Chain(mode)
        emit(f"{mode}-smep-user-fetch-user-page", "SMEP does not restrict user fetches", ch,
             kind="fetch", cpl=3, cr4=cr4)
        ch = Chain(mode)
        emit(f"{mode}-smep-cpl2-fetch-user-page", "CPL 2 is supervisor mode: with SMEP its "
             "fetch from a user page faults with P|I/D (no U)", ch, kind="fetch", cpl=2,
             cr4=cr4, want=("pf", EP | EI))
        ch = Chain(mode)
        emit(f"{mode}-smep-supervisor-read-user-page", "SMEP restricts fetches only: a "
             "supervisor read of a user page is allowed", ch, cr4=cr4)
        ch = Chain(mode, leaf="pde")
        emit(f"{mode}-smep-large-user-page-fetch", f"SMEP applies to a user {leaf_desc(ch)} "
             "too: P|I/D", ch, kind="fetch", cr4=cr4, want=("pf", EP | EI))
        ch = Chain(mode).set("pte", off=P)
        emit(f"{mode}-smep-np-fetch-id", "not-present fetch with CR4.SMEP=1: I/D is set "
             "(P=0)", ch, kind="fetch", cr4=cr4, efer=d["efer"] & ~EFER_NXE, want=("pf", EI))
        if mode != "32bit":
            ch = Chain(mode)
            emit(f"{mode}-smep-without-nxe", "CR4.SMEP=1, EFER.NXE=0: the SMEP fault still "
                 "has I/D", ch, kind="fetch", cr4=cr4, efer=d["efer"] & ~EFER_NXE,
                 want=("pf", EP | EI))
            ch = Chain(mode).set("pte", on=XD)
            emit(f"{mode}-smep-and-xd-user-fetch", "user fetch from an XD user page with SMEP "
                 "on: the XD rule faults (P|U|I/D); SMEP is irrelevant to user fetches",
                 ch, kind="fetch", cpl=3, cr4=cr4, want=("pf", EP | EU | EI))


def smap():
    for mode in MODES:
        d = DEFAULT[mode]
        cr4 = d["cr4"] | CR4_SMAP
        for kind, ec in (("read", EP), ("write", EP | EW)):
            ch = Chain(mode)
            emit(f"{mode}-smap-supervisor-{kind}-ac0", f"CR4.SMAP=1, EFLAGS.AC=0: supervisor "
                 f"{kind} of a user page faults ({'P' if kind == 'read' else 'P|W'})",
                 ch, kind=kind, cr4=cr4, rflags=0x2, want=("pf", ec))
            ch = Chain(mode)
            emit(f"{mode}-smap-supervisor-{kind}-ac1", f"CR4.SMAP=1, EFLAGS.AC=1: an explicit "
                 f"supervisor {kind} of a user page is allowed; {ad_text(ch, kind)}",
                 ch, kind=kind, cr4=cr4, rflags=0x2 | AC)
            ch = Chain(mode)
            emit(f"{mode}-smap-implicit-cpl0-{kind}-ac1", f"CR4.SMAP=1: an implicit supervisor "
                 f"{kind} ignores EFLAGS.AC=1 and faults", ch, kind=kind, cr4=cr4, implicit=True,
                 rflags=0x2 | AC, want=("pf", ec))
            ch = Chain(mode)
            emit(f"{mode}-smap-implicit-cpl3-{kind}", f"an implicit access at CPL 3 is a "
                 f"supervisor access: with SMAP the {kind} of a user page faults and the error "
                 f"code has no U ({'P' if kind == 'read' else 'P|W'})", ch, kind=kind, cpl=3,
                 cr4=cr4, implicit=True, rflags=0x2 | AC, want=("pf", ec))
        ch = Chain(mode).set("pte", off=US)
        emit(f"{mode}-smap-implicit-cpl3-supervisor-page", "implicit access at CPL 3 to a "
             "supervisor page with SMAP: allowed (it is a supervisor access)", ch, cpl=3,
             cr4=cr4, implicit=True)
        ch = Chain(mode).set("pte", off=US | RW)
        emit(f"{mode}-implicit-cpl3-write-ro-wp1", "implicit write at CPL 3 to a read-only "
             "supervisor page with CR0.WP=1: supervisor write rule, P|W (no U)", ch,
             kind="write", cpl=3, implicit=True, want=("pf", EP | EW))
        ch = Chain(mode).set("pte", off=US | RW)
        emit(f"{mode}-implicit-cpl3-write-ro-wp0", "implicit write at CPL 3 to a read-only "
             "supervisor page with CR0.WP=0: allowed (supervisor write, WP=0)", ch,
             kind="write", cpl=3, implicit=True, cr0=d["cr0"] & ~CR0_WP)
        ch = Chain(mode)
        emit(f"{mode}-no-smap-implicit-cpl3-user-page", "CR4.SMAP=0: an implicit supervisor "
             "read of a user page at CPL 3 is allowed", ch, cpl=3, implicit=True)
        ch = Chain(mode)
        emit(f"{mode}-smap-supervisor-fetch", "SMAP does not restrict fetches (SMEP is off): a "
             "supervisor fetch from a user page is allowed", ch, kind="fetch", cr4=cr4)
        ch = Chain(mode)
        emit(f"{mode}-smap-user-read", "SMAP does not restrict user accesses", ch, cpl=3,
             cr4=cr4)
        ch = Chain(mode).set("pte", off=RW)
        emit(f"{mode}-smap-ac1-write-ro-wp1", "SMAP with AC=1 lets a supervisor write reach "
             "a user page, but R/W=0 with CR0.WP=1 still faults (P|W)", ch, kind="write",
             cr4=cr4, rflags=AC, want=("pf", EP | EW))
        ch = Chain(mode).set("pte", off=RW)
        emit(f"{mode}-smap-ac1-write-ro-wp0", "SMAP with AC=1 and CR0.WP=0: a supervisor "
             "write to a read-only user page is allowed", ch, kind="write", cr4=cr4,
             rflags=AC, cr0=d["cr0"] & ~CR0_WP)
        ch = Chain(mode).set("pde", off=US)
        emit(f"{mode}-smap-supervisor-page-ok", "SMAP only concerns user pages: PDE U/S=0 "
             "makes it supervisor and the read succeeds", ch, cr4=cr4)


def id_bit_matrix():
    for mode in MODES:
        d = DEFAULT[mode]
        for smep_on in (0, 1):
            for nxe in (0, 1):
                cr4 = d["cr4"] | (CR4_SMEP if smep_on else 0)
                efer = (d["efer"] & ~EFER_NXE) | (EFER_NXE if nxe else 0)
                pae = mode != "32bit"
                idb = EI if (smep_on or (pae and nxe)) else 0
                ch = Chain(mode).set("pte", off=P)
                emit(f"{mode}-id-np-fetch-smep{smep_on}-nxe{nxe}",
                     f"not-present fetch, CR4.SMEP={smep_on}, EFER.NXE={nxe}, "
                     f"CR4.PAE={int(pae)}: I/D is " + ("set" if idb else "clear") +
                     " (I/D needs SMEP, or PAE and NXE)", ch, kind="fetch", cpl=3, cr4=cr4,
                     efer=efer, want=("pf", EU | idb))
        ch = Chain(mode).set("pte", off=P)
        emit(f"{mode}-id-np-read-never", "a read never sets I/D, whatever SMEP/NXE say", ch,
             cr4=d["cr4"] | CR4_SMEP, want=("pf", 0))


def feature_gates():
    gates = [("smep", CR4_SMEP, "cr4", "CR4.SMEP"), ("smap", CR4_SMAP, "cr4", "CR4.SMAP"),
             ("pku", CR4_PKE, "cr4", "CR4.PKE"), ("pks", CR4_PKS, "cr4", "CR4.PKS"),
             ("pge", CR4_PGE, "cr4", "CR4.PGE"), ("pse", CR4_PSE, "cr4", "CR4.PSE"),
             ("nx", EFER_NXE, "efer", "EFER.NXE")]
    for mode in MODES:
        d = DEFAULT[mode]
        for feat, bit, reg, name in gates:
            ch = Chain(mode)
            feats = [f for f in FULL if f != feat]
            kw = {reg: d[reg] | bit}
            emit(f"{mode}-invalid-{feat}-absent", f"{name} is set but the CPU lacks {feat}: "
                 "the control bit cannot be set, the state is invalid", ch, features=feats,
                 want="invalid", **kw)
            # The same bit with the feature present is fine (no effect on this access).
            if feat in ("pge", "pse") and mode != "32bit":
                ch = Chain(mode)
                emit(f"{mode}-{feat}-present-no-effect", f"{name}=1 with {feat} present has no "
                     "effect on this 4 KiB walk", ch, **kw)
        ch = Chain(mode)
        emit(f"{mode}-invalid-la57-absent", "CR4.LA57 is set but the CPU lacks la57: invalid "
             "whatever the paging mode", ch, features=[f for f in FULL if f != "la57"],
             cr4=d["cr4"] | CR4_LA57, want="invalid")
        ch = Chain(mode)
        emit(f"{mode}-nothing-but-needed-features", "only the features this state needs are "
             "listed; the walk works as usual", ch, kind="write",
             features=["nx"] if mode in ("pae", "4level") else
             (["nx", "la57"] if mode == "5level" else ["pse"]))


def pge_global():
    for mode in MODES:
        d = DEFAULT[mode]
        ch = Chain(mode).set("pte", on=G)
        emit(f"{mode}-global-leaf-cr4-pge", "G=1 in the leaf with CR4.PGE=1 only affects TLB "
             "flushing; the walk is unchanged", ch, kind="write", cr4=d["cr4"] | CR4_PGE)
        ch = Chain(mode).set("pte", on=0xE00)
        emit(f"{mode}-avail-bits-ignored", "bits 11:9 of the PTE are ignored (available to "
             "software)", ch)
        ch = Chain(mode).set("pte", on=PWT | PCD | 0x80)
        emit(f"{mode}-pte-pwt-pcd-pat", "PWT, PCD and PAT (bit 7; the CPU has pat) in a 4 KiB "
             "PTE only set the memory type; the walk is unchanged", ch, features=WITH_PAT)


# ---------------------------------------------------------------------------------------------
# 32-bit paging.


def mode_32bit():
    m = "32bit"
    # PSE-36: 4 MiB pages with physical-address bits above 4 GiB.
    for M in (36, 40, 46, 52):
        width = min(M, 40)
        for kind in ("read", "write"):
            pa = (rng.randrange(1, 1 << (width - 32)) << 32) | rng.randrange(0, 1 << 32, 1 << 22)
            ch = Chain(m, leaf="pde", M=M, leaf_pa=pa)
            emit(f"32bit-pse36-m{M}-high-pa-{kind}", f"4 MiB page with PSE-36, MAXPHYADDR {M}: "
                 f"PDE bits {width - 20}:13 give PA bits {width - 1}:32 (PA {pa:#x}); "
                 + ad_text(ch, kind), ch, kind=kind, cpl=3)
    # Reserved bits in a 4 MiB PDE.
    for M, bit in ((36, 17), (36, 18), (36, 19), (36, 20), (36, 21), (40, 21), (46, 21),
                   (52, 21), (39, 20)):
        ch = Chain(m, leaf="pde", M=M).set("pde", on=1 << bit)
        lo = min(M, 40) - 19
        emit(f"32bit-pse36-m{M}-reserved-bit{bit}", f"PSE-36 with MAXPHYADDR {M}: bits 21:{lo} "
             f"of a 4 MiB PDE are reserved, bit {bit} set gives P|RSVD", ch,
             want=("pf", EP | ER), M=M)
    for M, bit in ((40, 20), (46, 20), (36, 16), (46, 13)):
        pa_bit = 32 + bit - 13
        ch = Chain(m, leaf="pde", M=M, leaf_pa=rng.randrange(0, 1 << 32, 1 << 22))
        ch.set("pde", on=1 << bit)
        ch.leaf_pa |= 1 << pa_bit
        emit(f"32bit-pse36-m{M}-bit{bit}-is-address", f"PSE-36 with MAXPHYADDR {M}: PDE bit "
             f"{bit} is PA bit {pa_bit}, not reserved", ch, kind="write")
    nopse36 = [f for f in FULL if f != "pse36"]
    for bit in (13, 16, 17, 20, 21):
        ch = Chain(m, leaf="pde", pse36=False).set("pde", on=1 << bit)
        emit(f"32bit-nopse36-reserved-bit{bit}", "without PSE-36 bits 21:13 of a 4 MiB PDE are "
             f"reserved: bit {bit} gives P|RSVD", ch, features=nopse36, want=("pf", EP | ER))
    for kind, cpl, ec in (("write", 3, EP | EW | EU | ER), ("fetch", 0, EP | ER)):
        ch = Chain(m, leaf="pde", M=36).set("pde", on=1 << 21)
        emit(f"32bit-pse36-reserved-{kind}-cpl{cpl}", f"reserved bit 21 in a 4 MiB PDE, "
             f"{who(cpl)} {kind}: RSVD with the access bits"
             + (" (no I/D in 32-bit paging without SMEP)" if kind == "fetch" else ""),
             ch, kind=kind, cpl=cpl, want=("pf", ec))
    ch = Chain(m, leaf="pde", pse36=False, M=36)
    emit("32bit-nopse36-4mib-ok", "4 MiB page without PSE-36 (bits 21:13 zero): PA from "
         "PDE bits 31:22", ch, features=nopse36, kind="write")
    ch = Chain(m, leaf="pde").set("pde", on=PAT_LARGE)
    emit("32bit-4mib-pat-bit12", "bit 12 of a 4 MiB PDE is PAT (the CPU has pat), not an "
         "address bit", ch, features=WITH_PAT)
    ch = Chain(m, leaf="pde").set("pde", on=G)
    emit("32bit-4mib-global", "G=1 in a 4 MiB PDE with PGE: no effect on the walk", ch,
         cr4=CR4_PSE | CR4_PGE, kind="fetch")
    ch = Chain(m, leaf="pde").set("pde", off=P)
    emit("32bit-4mib-not-present", "4 MiB PDE with P=0 (PS=1): not-present fault, user read",
         ch, cpl=3, want=("pf", EU))
    # CR4.PSE=0: PDE.PS is ignored; the PDE points at a page table.
    for feats, tag in ((FULL, "pse-feature"), ([f for f in FULL if f != "pse"], "no-pse-feature")):
        for kind in ("read", "write"):
            ch = Chain(m).set("pde", on=PS)
            emit(f"32bit-pse0-ps-ignored-{tag}-{kind}", "CR4.PSE=0: bit 7 of the PDE is "
                 "ignored, the PDE references a page table and the walk maps a 4 KiB page; "
                 + ad_text(ch, kind), ch, kind=kind, cr4=0, features=feats)
    # No reserved bits in 32-bit PTEs / page-table PDEs.
    ch = Chain(m).set("pde", on=0xF40).set("pte", on=0xFC0 & ~D)
    emit("32bit-4k-entries-no-reserved-bits", "32-bit PDE/PTE low bits (ignored, PAT with pat, "
         "G) are never reserved", ch, kind="write", cr4=CR4_PSE | CR4_PGE, features=WITH_PAT)
    # Entries in the high and low halves of a word: only the right half is read and changed.
    for pde_i, pte_i in ((0x301, 0x0FE), (0x0FE, 0x301), (0x3FF, 0x3FF), (0x000, 0x000)):
        lin = (pde_i << 22) | (pte_i << 12) | rng.randrange(0, 0x1000)
        ch = Chain(m, linear=lin)
        # Fill the other half of each word with a different, present entry.
        for addr in ch.addrs:
            other = addr ^ 4
            put(ch.extra, other, rng.randrange(0, 1 << 32, 0x1000) | 0x67, 4)
        emit(f"32bit-halves-pde{pde_i:03x}-pte{pte_i:03x}", f"PDE index {pde_i:#x} and PTE "
             f"index {pte_i:#x} are the {'high' if pde_i & 1 else 'low'}/"
             f"{'high' if pte_i & 1 else 'low'} halves of their words; the other halves hold "
             "unrelated entries that must be left as they are", ch, kind="write", cpl=3)
    # PDE and PTE in the same word: the page directory is also the page table.
    pd = 0x7000
    lin = (0x300 << 22) | (0x301 << 12) | 0x123
    mem = {}
    put(mem, pd + 0x300 * 4, pd | 0x7, 4)            # PDE 0x300 -> the directory itself
    put(mem, pd + 0x301 * 4, 0x00ABC000 | 0x7, 4)    # PTE 0x301 (same word, high half)
    word = (((0x00ABC000 | 0x7) | A | D) << 32) | (pd | 0x7 | A)
    emit("32bit-pde-pte-share-a-word", "self-mapped directory: the PDE (low half) and the PTE "
         "(high half) share the word at 0x7c00; a write sets A in the PDE and A|D in the PTE, "
         "one word changes", group=m, kind="write", cr3=pd, memory=mem, linear=lin,
         want=("ok", 0xABC123, 4096, {hex(pd + 0xC00): hex(word)}))
    # CR3 low bits (PWT/PCD) and bits 11:0 are not part of the directory address.
    ch = Chain(m)
    emit("32bit-cr3-pwt-pcd", "CR3 bits 3 and 4 (PWT/PCD) do not move the page directory "
         "(CR3 bits 31:12)", ch, cr3=ch.bases[0] | 0x18)
    # EFER.NXE in 32-bit paging: no XD bit; I/D only via SMEP.
    for kind in ("fetch", "read"):
        ch = Chain(m)
        emit(f"32bit-nxe-no-xd-{kind}", "EFER.NXE=1 under 32-bit paging: 32-bit entries have "
             "no XD bit, the access succeeds", ch, kind=kind, cpl=3, efer=EFER_NXE)
    ch = Chain(m).set("pde", off=US)
    emit("32bit-nxe-user-fetch-supervisor", "32-bit paging with EFER.NXE=1: user fetch from a "
         "supervisor page gives P|U; I/D stays 0 because CR4.PAE=0 and SMEP=0", ch,
         kind="fetch", cpl=3, efer=EFER_NXE, want=("pf", EP | EU))
    # PKE has no effect outside IA-32e mode.
    ch = Chain(m)
    emit("32bit-pke-no-effect", "CR4.PKE=1 with PKRU denying everything: protection keys exist "
         "only in IA-32e mode, so the user write succeeds", ch, kind="write", cpl=3,
         cr4=CR4_PSE | CR4_PKE, pkru=0xFFFFFFFF)
    # Linear addresses must fit 32 bits.
    ch = Chain(m)
    emit("32bit-invalid-linear-above-4g", "32-bit paging: a linear address above 0xffffffff is "
         "invalid", ch, linear=0x1_0000_0000 | ch.linear, want="invalid")
    # Numbers written as decimal JSON numbers / uppercase hex.
    ch = Chain(m)
    c = {"maxphyaddr": 40, "features": FULL,
         "regs": {"cr0": 0x80010011, "cr3": ch.bases[0], "cr4": 16, "efer": 0},
         "memory": {hex(a).upper().replace("0X", "0x"): (v if v < 1 << 53 else hex(v))
                    for a, v in sorted(ch.words().items())},
         "access": {"linear": ch.linear, "kind": "read", "cpl": 0}}
    emit("32bit-decimal-numbers", "registers, memory values and the linear address given as "
         "decimal JSON numbers, addresses in uppercase hex: same walk as usual", ch, case=c,
         group=m)


# ---------------------------------------------------------------------------------------------
# PAE paging.


def mode_pae():
    m = "pae"
    d = DEFAULT[m]
    # PDPTE reserved bits: loading CR3 would #GP, so the case is invalid.
    for bit in (1, 2, 5, 6, 7, 8, 36, 40, 52, 62, 63):
        ch = Chain(m, M=36)
        ch.values[0] |= 1 << bit
        emit(f"pae-invalid-pdpte-used-bit{bit}", f"the PDPTE used has reserved bit {bit} set "
             "(PDPTE reserved: 63:MAXPHYADDR=36, 8:5, 2:1); MOV CR3 would #GP: invalid", ch,
             want="invalid")
    for bit in (2, 7, 63, 45):
        ch = Chain(m, M=40)
        other = sorted(ch.extra)[0]
        ch.extra[other] |= 1 << bit
        emit(f"pae-invalid-pdpte-unused-bit{bit}", f"a PDPTE this access does not use is "
             f"present with reserved bit {bit}; all four PDPTEs are loaded at CR3: invalid",
             ch, want="invalid")
    ch = Chain(m, M=40)
    other = sorted(ch.extra)[0]
    ch.extra[other] = 0xFFFFFFFF_FFFFFFFE
    emit("pae-pdpte-unused-not-present-junk", "a PDPTE with P=0 may hold anything: no check, "
         "the access through another PDPTE succeeds", ch, kind="write")
    ch = Chain(m)
    ch.values[0] = 0xFFF0_0000_0000_01E6
    emit("pae-pdpte-used-not-present-junk", "the PDPTE used has P=0 and junk elsewhere: loads "
         "fine, the access takes a not-present #PF (user write: W|U)", ch, kind="write",
         cpl=3, want=("pf", EW | EU))
    pd_hi = (1 << 39) | 0x5000
    ch = Chain(m, M=40)
    ch.bases[1] = pd_hi
    lin = ch.linear
    ch.addrs[1] = pd_hi + ((lin >> 21) & 0x1FF) * 8
    ch.values[0] = pd_hi | P | PWT | PCD | 0xE00
    emit("pae-pdpte-pwt-pcd-avail-high-pd", "PDPTE bits 3/4 (PWT/PCD) and 11:9 are not "
         "reserved; the page directory is at 2^39+0x5000 (below MAXPHYADDR 40)", ch,
         kind="write")
    # PDE / PTE reserved bits.
    for M in (36, 40, 46, 52):
        for name in ("pde", "pte"):
            for bit in sorted({M, 52, 58, 62}):
                ch = Chain(m, M=M).set(name, on=1 << bit)
                emit(f"pae-rsvd-m{M}-{name}-bit{bit}", f"PAE {name.upper()}: bits 62:"
                     f"MAXPHYADDR ({M}) are reserved; bit {bit} gives P|RSVD", ch,
                     want=("pf", EP | ER))
    for kind, cpl, ec in (("write", 3, EP | EW | EU | ER), ("fetch", 0, EP | ER | EI),
                          ("fetch", 3, EP | EU | ER | EI)):
        ch = Chain(m).set("pte", on=1 << 40)
        emit(f"pae-rsvd-pte-{kind}-cpl{cpl}", f"reserved PTE bit 40 (MAXPHYADDR 36), {who(cpl)} "
             f"{kind}: P|RSVD plus the access bits", ch, kind=kind, cpl=cpl, want=("pf", ec))
    for bit in (13, 16, 20):
        ch = Chain(m, leaf="pde").set("pde", on=1 << bit)
        emit(f"pae-2mib-reserved-bit{bit}", f"2 MiB PAE PDE: bits 20:13 are reserved "
             f"(alignment); bit {bit} gives P|RSVD", ch, want=("pf", EP | ER))
    ch = Chain(m, leaf="pde")
    emit("pae-2mib-without-pse", "PAE PDE.PS maps a 2 MiB page whatever CR4.PSE says (here 0, "
         "and the CPU has no pse)", ch, kind="write", cpl=3, features=["nx"])
    ch = Chain(m, leaf="pde").set("pde", on=PAT_LARGE)
    emit("pae-2mib-pat-bit12", "bit 12 of a 2 MiB PDE is PAT (the CPU has pat), not reserved",
         ch, kind="write", features=WITH_PAT)
    for kind in KINDS:
        ch = Chain(m, leaf="pde", M=52)
        emit(f"pae-2mib-m52-{kind}", f"2 MiB page with MAXPHYADDR 52 (PA {ch.leaf_pa:#x}); "
             + ad_text(ch, kind), ch, kind=kind, cpl=3, M=52)
    ch = Chain(m, M=52).set("pte", on=1 << 51)
    ch.leaf_pa |= 1 << 51
    emit("pae-m52-bit51-is-address", "MAXPHYADDR 52: PTE bit 51 is an address bit", ch)
    ch = Chain(m, leaf="pde", M=40, place="high")
    emit("pae-2mib-tables-high", "PAE page directory above 4 GiB (MAXPHYADDR 40), 2 MiB page",
         ch, kind="write")
    # PDPT placement inside a page (CR3 bits 31:5).
    for off in (0x20, 0xFE0):
        base = rng.randrange(0x10000, 0x1000000, 0x1000) + off
        ch = Chain(m, bases=[base, 0x4000, 0x9000])
        emit(f"pae-pdpt-at-offset-{off:x}", f"PDPT at {base:#x}: CR3 bits 31:5 locate it, "
             "32-byte aligned inside a page", ch, kind="write", cpl=3)
    ch = Chain(m)
    emit("pae-cr3-low-bits-ignored", "PAE paging: CR3 bits 4:0 are ignored (the PDPT address "
         "is CR3 bits 31:5), so setting bits 3 and 4 does not move the PDPT", ch,
         cr3=ch.bases[0] | 0x18)
    for i in range(4):
        lin = (i << 30) | rng.getrandbits(30)
        ch = Chain(m, linear=lin)
        emit(f"pae-pdpte-index-{i}", f"linear bits 31:30 = {i} select PDPTE {i}", ch,
             kind="read" if i % 2 else "write", cpl=3)
    # PKE and LA57 have no effect in PAE paging.
    ch = Chain(m).set("pte", on=0)
    emit("pae-pke-no-effect", "CR4.PKE=1 with PKRU denying all keys: protection keys need "
         "IA-32e mode, so the user write succeeds", ch, kind="write", cpl=3,
         cr4=d["cr4"] | CR4_PKE, pkru=0xFFFFFFFF)
    ch = Chain(m).set("pte", on=1 << 59)
    emit("pae-key-bits-reserved", "PAE PTE bit 59 (a protection-key bit in IA-32e mode) is "
         "reserved in PAE paging: P|RSVD even with CR4.PKE=1", ch, cpl=3,
         cr4=d["cr4"] | CR4_PKE, want=("pf", EP | EU | ER))
    ch = Chain(m)
    emit("pae-la57-ignored", "CR4.LA57=1 with EFER.LME=0: the mode is PAE paging (LA57 only "
         "matters in IA-32e mode)", ch, cr4=d["cr4"] | CR4_LA57, kind="write")
    ch = Chain(m)
    emit("pae-invalid-linear-above-4g", "PAE paging: a linear address above 0xffffffff is "
         "invalid", ch, linear=(1 << 32) | ch.linear, want="invalid")
    ch = Chain(m)
    emit("pae-no-nx-feature-no-nxe", "a CPU without nx, EFER.NXE=0: PAE paging works, every "
         "page executable", ch, kind="fetch", efer=0, features=["pse"])


# ---------------------------------------------------------------------------------------------
# 4-level and 5-level paging.


def mode_ia32e():
    for m in ("4level", "5level"):
        d = DEFAULT[m]
        names = [n for n, *_ in LEVELS[m]]
        # Large pages.
        for kind in KINDS:
            for leaf in ("pde", "pdpte"):
                ch = Chain(m, leaf=leaf)
                emit(f"{m}-{leaf_desc(ch).replace(' ', '-').lower()}-{kind}",
                     f"{leaf_desc(ch)} mapped by a PS=1 {leaf.upper()}: PA {ch.leaf_pa:#x} plus "
                     f"the low {ch.page_size.bit_length() - 1} bits; " + ad_text(ch, kind),
                     ch, kind=kind, cpl=3)
        ch = Chain(m, leaf="pdpte")
        emit(f"{m}-1gib-without-pdpe1gb", "PDPTE.PS=1 but the CPU lacks pdpe1gb: bit 7 of the "
             "PDPTE is reserved, P|RSVD", ch, features=[f for f in FULL if f != "pdpe1gb"],
             want=("pf", EP | ER))
        ch = Chain(m, leaf="pde")
        emit(f"{m}-2mib-without-pdpe1gb", "no pdpe1gb: 2 MiB pages are still fine", ch,
             features=[f for f in FULL if f != "pdpe1gb"])
        for bit in (13, 20, 21, 29):
            ch = Chain(m, leaf="pdpte").set("pdpte", on=1 << bit)
            emit(f"{m}-1gib-reserved-bit{bit}", f"1 GiB PDPTE: bits 29:13 are reserved "
                 f"(alignment); bit {bit} gives P|RSVD", ch, want=("pf", EP | ER))
        for bit in (13, 20):
            ch = Chain(m, leaf="pde").set("pde", on=1 << bit)
            emit(f"{m}-2mib-reserved-bit{bit}", f"2 MiB PDE: bits 20:13 are reserved; bit {bit} "
                 "gives P|RSVD", ch, want=("pf", EP | ER))
        for leaf in ("pde", "pdpte"):
            ch = Chain(m, leaf=leaf).set(leaf, on=PAT_LARGE)
            emit(f"{m}-{leaf}-large-pat-bit12", f"bit 12 of a large-page {leaf.upper()} is PAT "
                 "(the CPU has pat), not reserved", ch, kind="write", features=WITH_PAT)
        for top in NONLEAF_TOP[m]:
            for kind, cpl, ec in (("read", 0, EP | ER), ("write", 3, EP | EW | EU | ER)):
                ch = Chain(m).set(top, on=PS)
                emit(f"{m}-{top}-ps-reserved-{kind}", f"PS (bit 7) is reserved in a "
                     f"{top.upper()}: {who(cpl)} {kind} gives P|RSVD plus the access bits",
                     ch, kind=kind, cpl=cpl, want=("pf", ec))
        # MAXPHYADDR-dependent reserved address bits, per level.
        for M in (36, 40, 46) if m == "4level" else (40, 46, 52):
            for name in names:
                for bit in ((M, 51) if M < 51 else ()):
                    ch = Chain(m, M=M).set(name, on=1 << bit)
                    emit(f"{m}-rsvd-m{M}-{name}-bit{bit}", f"{name.upper()} bit {bit} lies in "
                         f"51:MAXPHYADDR ({M}): reserved, P|RSVD", ch, want=("pf", EP | ER))
        for M in (36, 40, 46, 52):
            ch = Chain(m, M=M, place="high")
            emit(f"{m}-m{M}-tables-at-top", f"MAXPHYADDR {M}: paging structures in the top half "
                 f"of the physical space and the page at PA {ch.leaf_pa:#x}", ch, kind="write")
        ch = Chain(m, M=52).set("pte", on=1 << 51)
        ch.leaf_pa |= 1 << 51
        emit(f"{m}-m52-pte-bit51-is-address", "MAXPHYADDR 52: PTE bit 51 is PA bit 51", ch)
        for kind, cpl, ec in (("write", 3, EP | EW | EU | ER), ("fetch", 0, EP | ER | EI),
                              ("fetch", 3, EP | EU | ER | EI)):
            ch = Chain(m, M=46).set("pde", on=1 << 47)
            emit(f"{m}-rsvd-pde-{kind}-cpl{cpl}", f"reserved PDE bit 47 (MAXPHYADDR 46), "
                 f"{who(cpl)} {kind}: P|RSVD plus the access bits", ch, kind=kind, cpl=cpl,
                 want=("pf", ec))
        # Reserved bit found below a level that would deny the access: RSVD wins.
        ch = Chain(m, M=46).set(names[0], off=US).set("pte", on=1 << 50)
        emit(f"{m}-rsvd-beats-us", f"{names[0].upper()} U/S=0 and a reserved bit in the PTE: "
             "reserved bits are found during the walk, before rights are checked; user read "
             "gets P|U|RSVD", ch, cpl=3, want=("pf", EP | EU | ER))
        ch = Chain(m, M=46).set("pdpte", on=1 << 49).set("pte", off=P)
        emit(f"{m}-rsvd-upper-before-np-lower", "reserved bit in the PDPTE and a not-present "
             "PTE: the walk stops at the PDPTE (P|RSVD)", ch, want=("pf", EP | ER))
        # Bits 62:52 are ignored (no PKE).
        for name in names:
            ch = Chain(m).set(name, on=rbits(62, 52))
            emit(f"{m}-{name}-bits-62-52-ignored", f"bits 62:52 of the {name.upper()} are "
                 "ignored in IA-32e paging (CR4.PKE=0)", ch, kind="write")
        # Canonical addresses.
        width = 48 if m == "4level" else 57
        sign = 1 << (width - 1)
        hi = ((1 << 64) - 1) ^ ((1 << width) - 1)
        for tag, lin in (("sign-bit-only", sign), ("bit63-only", 1 << 63),
                         ("top-ones-sign-zero", hi | 0x1234000),
                         ("one-top-bit", (1 << width) | 0x5000),
                         ("all-ones-but-sign", ((1 << 64) - 1) ^ sign)):
            emit(f"{m}-noncanonical-{tag}", f"{lin:#x}: bits 63:{width - 1} are not all equal "
                 "(non-canonical): #GP before any walk", group=m, linear=lin,
                 memory={}, want="gp")
        ch = Chain(m)
        emit(f"{m}-noncanonical-tables-valid", "non-canonical address with valid tables "
             "for its low bits: still #GP", ch, linear=ch.linear ^ (1 << 62), want="gp")
        for tag, lin in (("high-half", hi | sign | rng.getrandbits(width - 1)),
                         ("top", (1 << 64) - 0x1000),
                         ("low-max", sign - 8)):
            ch = Chain(m, linear=lin)
            emit(f"{m}-canonical-{tag}", f"{lin:#x} is canonical ({width}-bit): normal walk",
                 ch, kind="write")
        if m == "5level":
            ch = Chain(m, linear=0x0000_8000_0000_0000 | rng.getrandbits(47))
            emit("5level-canonical-beyond-48-bits", "bit 47 set, bits 63:48 clear: "
                 "non-canonical for 4-level but canonical with LA57 (bits 63:56 follow bit 56)",
                 ch)
            ch = Chain(m)
            emit("5level-pml5e-index-used", "linear bits 56:48 select the PML5E "
                 f"(index {(ch.linear >> 48) & 0x1ff:#x})", ch, kind="fetch", cpl=3)
        else:
            emit("4level-noncanonical-bit47-only-tables-present",
                 "0x0000800000000000 needs bits 63:48 set under 4-level paging: #GP", group=m,
                 linear=0x0000_8000_0000_0000, memory={0x1000: 0x2007}, want="gp")
        # CR3 with PCID.
        ch = Chain(m)
        emit(f"{m}-cr3-pcid", "CR4.PCIDE=1: CR3 bits 11:0 are the PCID, not address", ch,
             cr3=ch.bases[0] | 0xABC, cr4=d["cr4"] | CR4_PCIDE, kind="write")
        ch = Chain(m)
        emit(f"{m}-invalid-pcide-absent", "CR4.PCIDE is set but the CPU lacks pcid: invalid",
             ch, cr4=d["cr4"] | CR4_PCIDE, features=[f for f in FULL if f != "pcid"],
             want="invalid")
        ch = Chain(m)
        emit(f"{m}-cr3-pwt-pcd", "CR3 bits 3/4 (PWT/PCD) are not address bits", ch,
             cr3=ch.bases[0] | 0x18)
        # Recursive (self-referencing) top-level entry.
        top = 0x20000
        idx = 0x1ED
        lin = 0
        for shift in (12, 21, 30, 39) + ((48,) if m == "5level" else ()):
            lin |= idx << shift
        lin |= 0x678
        if lin >> (width - 1) & 1:
            lin |= hi
        mem = {top + idx * 8: top | 0x7}
        emit(f"{m}-recursive-self-map", f"the {names[0].upper()} entry {idx:#x} points at its "
             "own table and every index is the same: each level reads that one entry, the "
             "final page is the table itself; a write sets A|D in the one word",
             group=m, kind="write", cr3=top, memory=mem, linear=lin,
             want=("ok", top | 0x678, 4096, {hex(top + idx * 8): hex(top | 0x7 | A | D)}))
        # XD at the top level, NX/SMEP together.
        ch = Chain(m, leaf="pdpte").set("pdpte", on=XD)
        emit(f"{m}-xd-1gib-fetch-cpl3", "user fetch from an XD 1 GiB page: P|U|I/D", ch,
             kind="fetch", cpl=3, want=("pf", EP | EU | EI))


def protection_keys():
    for m in ("4level", "5level"):
        d = DEFAULT[m]
        pke = d["cr4"] | CR4_PKE
        pks = d["cr4"] | CR4_PKS
        for key in (0, 1, 7, 15):
            ad, wd = 1 << (2 * key), 2 << (2 * key)
            kbits = key << 59
            ch = Chain(m).set("pte", on=kbits)
            emit(f"{m}-pku-key{key}-ad-user-read", f"user page with key {key}, PKRU.AD{key}=1: "
                 "user read faults with P|U|PK", ch, cpl=3, cr4=pke, pkru=ad,
                 want=("pf", EP | EU | EK))
            ch = Chain(m).set("pte", on=kbits)
            emit(f"{m}-pku-key{key}-wd-user-write", f"user page with key {key}, PKRU.WD{key}=1: "
                 "user write faults with P|W|U|PK", ch, kind="write", cpl=3, cr4=pke, pkru=wd,
                 want=("pf", EP | EW | EU | EK))
            ch = Chain(m).set("pte", on=kbits)
            emit(f"{m}-pku-key{key}-wd-user-read", f"PKRU.WD{key}=1 only blocks writes: user "
                 "read succeeds", ch, cpl=3, cr4=pke, pkru=wd)
            other = (key + 1) % 16
            ch = Chain(m).set("pte", on=kbits)
            emit(f"{m}-pku-key{key}-other-key-denied", f"PKRU denies key {other} only: the page "
                 f"has key {key}, user write succeeds", ch, kind="write", cpl=3, cr4=pke,
                 pkru=3 << (2 * other))
        key = 5
        kbits = key << 59
        ad, wd = 1 << 10, 2 << 10
        ch = Chain(m).set("pte", on=kbits)
        emit(f"{m}-pku-ad-fetch-ok", "PKRU.AD applies to data accesses only: user fetch "
             "succeeds", ch, kind="fetch", cpl=3, cr4=pke, pkru=ad | wd)
        ch = Chain(m).set("pte", on=kbits)
        emit(f"{m}-pku-ad-supervisor-read", "PKRU applies to supervisor accesses to user "
             "pages too: supervisor read (SMAP off) with AD5=1 faults with P|PK", ch, cr4=pke,
             pkru=ad, want=("pf", EP | EK))
        ch = Chain(m).set("pte", on=kbits)
        emit(f"{m}-pku-wd-supervisor-write-wp1", "PKRU.WD5=1 and CR0.WP=1: a supervisor write "
             "to the user page faults with P|W|PK", ch, kind="write", cr4=pke, pkru=wd,
             want=("pf", EP | EW | EK))
        ch = Chain(m).set("pte", on=kbits)
        emit(f"{m}-pku-wd-supervisor-write-wp0", "PKRU.WD5=1 but CR0.WP=0: WD does not block "
             "supervisor writes; " + ad_text(ch, "write"), ch, kind="write", cr4=pke, pkru=wd,
             cr0=d["cr0"] & ~CR0_WP)
        ch = Chain(m).set("pte", on=kbits)
        emit(f"{m}-pku-wd-user-write-wp0", "CR0.WP=0 does not relax WD for user writes: "
             "P|W|U|PK", ch, kind="write", cpl=3, cr4=pke, pkru=wd, cr0=d["cr0"] & ~CR0_WP,
             want=("pf", EP | EW | EU | EK))
        ch = Chain(m).set("pte", on=kbits)
        emit(f"{m}-pku-implicit-write-wd-wp1", "implicit (supervisor) write at CPL 3 to a "
             "user page whose key has WD=1, CR0.WP=1: P|W|PK, no U", ch, kind="write", cpl=3,
             implicit=True, cr4=pke, pkru=wd, want=("pf", EP | EW | EK))
        ch = Chain(m).set("pte", on=kbits, off=US)
        emit(f"{m}-pku-supervisor-page-not-checked", "PKRU covers user pages only: a "
             "supervisor page with key 5 and AD5=1 is read by the supervisor freely", ch,
             cr4=pke, pkru=ad)
        ch = Chain(m).set("pte", on=kbits)
        emit(f"{m}-pku-pke0-ignored", "CR4.PKE=0: PKRU is not consulted, bits 62:59 are "
             "ignored", ch, kind="write", cpl=3, pkru=0xFFFFFFFF)
        ch = Chain(m).set("pde", on=kbits).set("pdpte", on=kbits)
        emit(f"{m}-pku-nonleaf-key-ignored", "protection key bits in non-leaf entries are "
             "ignored; the leaf has key 0, which PKRU allows", ch, kind="write", cpl=3,
             cr4=pke, pkru=ad | wd)
        for leaf in ("pde", "pdpte"):
            ch = Chain(m, leaf=leaf).set(leaf, on=kbits)
            emit(f"{m}-pku-{leaf}-large-page-key", f"the key of a {leaf_desc(ch)} is in bits "
                 f"62:59 of its {leaf.upper()}: AD5=1 gives P|U|PK on a user read", ch, cpl=3,
                 cr4=pke, pkru=ad, want=("pf", EP | EU | EK))
        ch = Chain(m).set("pte", on=kbits, off=P)
        emit(f"{m}-pku-not-present-no-pk", "not-present PTE: no PK bit even though the key "
             "would deny (user read: U)", ch, cpl=3, cr4=pke, pkru=ad, want=("pf", EU))
        ch = Chain(m, M=46).set("pte", on=kbits | (1 << 51))
        emit(f"{m}-pku-reserved-no-pk", "reserved bit 51 in the PTE (MAXPHYADDR 46): "
             "P|U|RSVD, PK is never set with RSVD", ch, cpl=3, cr4=pke, pkru=ad,
             want=("pf", EP | EU | ER))
        ch = Chain(m).set("pte", on=kbits, off=RW)
        emit(f"{m}-pku-and-readonly-user-write", "user write to a read-only user page whose "
             "key has WD=1: protection fault and the PK condition holds (SDM: PK=1 when the "
             "key denies the data access): P|W|U|PK", ch, kind="write", cpl=3, cr4=pke,
             pkru=wd, want=("pf", EP | EW | EU | EK))
        ch = Chain(m).set("pte", on=kbits, off=RW)
        emit(f"{m}-pku-readonly-user-write-key-allows", "user write to a read-only user page, "
             "PKRU allows the key: P|W|U, no PK", ch, kind="write", cpl=3, cr4=pke, pkru=0,
             want=("pf", EP | EW | EU))
        ch = Chain(m).set("pte", on=kbits)
        emit(f"{m}-pku-smap-ac1-supervisor-read", "SMAP with AC=1 admits the supervisor read, "
             "but AD5=1: P|PK", ch, cr4=pke | CR4_SMAP, rflags=AC, pkru=ad,
             want=("pf", EP | EK))
        # PKS: supervisor pages, IA32_PKRS.
        for key in (2, 9):
            kb = key << 59
            ad, wd = 1 << (2 * key), 2 << (2 * key)
            ch = Chain(m).set("pte", on=kb, off=US)
            emit(f"{m}-pks-key{key}-ad-supervisor-read", f"CR4.PKS=1, supervisor page with key "
                 f"{key}, PKRS.AD{key}=1: supervisor read faults with P|PK", ch, cr4=pks,
                 pkrs=ad, want=("pf", EP | EK))
            ch = Chain(m).set("pte", on=kb, off=US)
            emit(f"{m}-pks-key{key}-wd-supervisor-write-wp1", f"PKRS.WD{key}=1, CR0.WP=1: "
                 "supervisor write to the supervisor page faults with P|W|PK", ch,
                 kind="write", cr4=pks, pkrs=wd, want=("pf", EP | EW | EK))
            ch = Chain(m).set("pte", on=kb, off=US)
            emit(f"{m}-pks-key{key}-wd-supervisor-write-wp0", f"PKRS.WD{key}=1 but CR0.WP=0: "
                 "the supervisor write succeeds", ch, kind="write", cr4=pks, pkrs=wd,
                 cr0=d["cr0"] & ~CR0_WP)
            ch = Chain(m).set("pte", on=kb, off=US)
            emit(f"{m}-pks-key{key}-wd-supervisor-read", f"PKRS.WD{key}=1 does not block "
                 "reads", ch, cr4=pks, pkrs=wd)
        kb = 2 << 59
        ch = Chain(m).set("pte", on=kb, off=US)
        emit(f"{m}-pks-implicit-read", "PKS applies to implicit supervisor accesses: AD2=1, "
             "implicit read at CPL 3 gives P|PK (no U)", ch, cpl=3, implicit=True, cr4=pks,
             pkrs=1 << 4, want=("pf", EP | EK))
        ch = Chain(m).set("pte", on=kb, off=US)
        emit(f"{m}-pks-fetch-not-checked", "PKS does not apply to fetches: supervisor fetch "
             "from a supervisor page with AD2=1 succeeds", ch, kind="fetch", cr4=pks,
             pkrs=3 << 4)
        ch = Chain(m).set("pte", on=kb, off=US)
        emit(f"{m}-pks-off-pkrs-ignored", "CR4.PKS=0: IA32_PKRS is not consulted", ch,
             kind="write", pkrs=0xFFFFFFFF)
        ch = Chain(m).set("pte", on=kb)
        emit(f"{m}-pks-user-page-uses-pkru", "a user page is governed by PKRU, not PKRS: "
             "PKRS.AD2=1 does not stop a user read (CR4.PKE=0)", ch, cpl=3, cr4=pks,
             pkrs=3 << 4)
        ch = Chain(m).set("pte", on=kb)
        emit(f"{m}-pks-and-pke-user-page", "CR4.PKE=1 and CR4.PKS=1, user page: PKRU (AD2=1) "
             "decides, PKRS allows: user read faults with P|U|PK", ch, cpl=3,
             cr4=pke | CR4_PKS, pkru=1 << 4, pkrs=0, want=("pf", EP | EU | EK))
        ch = Chain(m).set("pte", on=kb, off=US)
        emit(f"{m}-pks-and-pke-supervisor-page", "CR4.PKE=1 and CR4.PKS=1, supervisor page: "
             "PKRS (AD2=1) decides even though PKRU allows: P|PK", ch,
             cr4=pke | CR4_PKS, pkru=0, pkrs=1 << 4, want=("pf", EP | EK))
        ch = Chain(m, leaf="pde").set("pde", on=kb, off=US)
        emit(f"{m}-pks-2mib", "PKS key in a 2 MiB supervisor page's PDE, WD2=1, CR0.WP=1: "
             "supervisor write faults with P|W|PK", ch, kind="write", cr4=pks, pkrs=2 << 4,
             want=("pf", EP | EW | EK))


def paging_off():
    for lin, kind in ((0x12345678, "read"), (0xFFFFFFFF, "write"), (0x0, "fetch")):
        emit(f"nopaging-{kind}-{lin:x}", "CR0.PG=0: no translation, physical = linear, "
             "page_size 2^32, nothing written", group="none",
             case={"maxphyaddr": 36, "features": ["nx"],
                   "regs": {"cr0": "0x11", "cr3": "0x0", "cr4": "0x0", "efer": "0x0"},
                   "memory": {"0x1000": "0x2007"},
                   "access": {"linear": hex(lin), "kind": kind, "cpl": 0}},
             want=("ok", lin, 1 << 32, {}))


# ---------------------------------------------------------------------------------------------
# Malformed cases.


def malformed():
    good = {"maxphyaddr": 46, "features": FULL,
            "regs": {"cr0": "0x80010033", "cr3": "0x1000", "cr4": "0x20", "efer": "0xd01"},
            "memory": {"0x1000": "0x2007", "0x2000": "0x3007", "0x3000": "0x4007",
                       "0x4000": "0x5007"},
            "access": {"linear": "0x0", "kind": "read", "cpl": 0}}
    # The unmodified base case is a valid walk.
    emit("malformed-baseline-valid", "the base used by the malformed cases below is valid: "
         "linear 0 maps to 0x5000", group="malformed", case=good,
         want=("ok", 0x5000, 4096, {"0x1000": "0x2027", "0x2000": "0x3027",
                                     "0x3000": "0x4027", "0x4000": "0x5027"}))

    def variant(cid, reason, edit):
        c = json.loads(json.dumps(good))
        edit(c)
        emit(f"malformed-{cid}", reason, group="malformed", case=c, want="invalid")

    def drop(path):
        def f(c):
            obj = c
            for k in path[:-1]:
                obj = obj[k]
            del obj[path[-1]]
        return f

    def setv(path, v):
        def f(c):
            obj = c
            for k in path[:-1]:
                obj = obj[k]
            obj[path[-1]] = v
        return f

    variant("no-regs", "regs is required", drop(["regs"]))
    for r in ("cr0", "cr3", "cr4", "efer"):
        variant(f"no-{r}", f"regs.{r} is required", drop(["regs", r]))
    variant("regs-not-object", "regs must be an object", setv(["regs"], ["0x80010033"]))
    variant("bad-hex-cr3", "regs.cr3 '0x10g0' is not hex", setv(["regs", "cr3"], "0x10g0"))
    variant("empty-hex-cr4", "regs.cr4 '0x' has no digits", setv(["regs", "cr4"], "0x"))
    variant("bad-hex-rflags", "regs.rflags '0x2z' is not hex", setv(["regs", "rflags"], "0x2z"))
    variant("hex-without-prefix", "hex strings need the 0x prefix: '1000' for cr3",
            setv(["regs", "cr3"], "1000"))
    variant("bad-hex-memory-value", "memory value '0xzz' is not hex",
            setv(["memory", "0x1000"], "0xzz"))
    variant("bad-hex-memory-address", "memory address '0xlol' is not hex",
            setv(["memory", "0xlol"], "0x1"))
    variant("memory-address-unaligned", "memory words are at 8-aligned addresses: 0x1004",
            setv(["memory", "0x1004"], "0x1"))
    variant("memory-value-too-wide", "a memory word is 64 bits: 0x1 followed by 16 zeros "
            "does not fit", setv(["memory", "0x1000"], "0x10000000000000000"))
    variant("memory-not-object", "memory must be an object of address: value",
            setv(["memory"], [["0x1000", "0x2007"]]))
    variant("no-access", "access is required", drop(["access"]))
    variant("no-linear", "a linear access needs access.linear", drop(["access", "linear"]))
    variant("kind-unknown", "access.kind 'execute' is not read, write or fetch",
            setv(["access", "kind"], "execute"))
    variant("kind-missing", "access.kind is required", drop(["access", "kind"]))
    variant("kind-number", "access.kind must be a string", setv(["access", "kind"], 1))
    variant("cpl-7", "access.cpl 7 is not 0-3", setv(["access", "cpl"], 7))
    variant("cpl-4", "access.cpl 4 is not 0-3", setv(["access", "cpl"], 4))
    variant("cpl-negative", "access.cpl -1 is not 0-3", setv(["access", "cpl"], -1))
    variant("cpl-fraction", "access.cpl 1.5 is not an integer", setv(["access", "cpl"], 1.5))
    variant("cpl-missing", "a linear access needs access.cpl (only implicit has a default)",
            drop(["access", "cpl"]))
    variant("linear-and-guest-physical", "access has both linear and guest_physical",
            setv(["access", "guest_physical"], "0x5000"))
    variant("guest-physical-without-ept", "a guest_physical access is only allowed with ept",
            lambda c: c.__setitem__("access", {"guest_physical": "0x5000", "kind": "read"}))
    variant("linear-too-wide", "access.linear 0x1 followed by 16 zeros is wider than 64 bits",
            setv(["access", "linear"], "0x10000000000000000"))
    variant("linear-negative", "access.linear -4096 is negative",
            setv(["access", "linear"], -4096))
    variant("implicit-not-boolean", "access.implicit must be true or false",
            setv(["access", "implicit"], "yes"))
    variant("features-not-list", "features must be a list of names",
            setv(["features"], "nx smep smap"))
    variant("maxphyaddr-64", "maxphyaddr 64 is beyond the architectural limit of 52",
            setv(["maxphyaddr"], 64))
    variant("maxphyaddr-not-number", "maxphyaddr 'forty' is not a number",
            setv(["maxphyaddr"], "forty"))


def main():
    basic_success()
    accessed_dirty()
    not_present()
    rights()
    execute_disable()
    smep()
    smap()
    id_bit_matrix()
    feature_gates()
    pge_global()
    mode_32bit()
    mode_pae()
    mode_ia32e()
    protection_keys()
    paging_off()
    malformed()
    with open(OUT, "w") as f:
        for rec in CASES:
            f.write(json.dumps(rec) + "\n")
    for g in ("32bit", "pae", "4level", "5level", "none", "malformed"):
        print(f"{g:10} {GROUPS[g]}")
    print(f"{'total':10} {len(CASES)}  -> {os.path.relpath(OUT)}")


if __name__ == "__main__":
    main()
