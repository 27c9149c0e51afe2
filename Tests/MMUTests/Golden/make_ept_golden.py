#!/usr/bin/env python3
"""Builds ept-golden.jsonl: hand-designed walk cases for EPT and nested (guest + EPT) translation.

Each scenario below builds host-physical memory by hand (EPT paging structures, and guest paging
structures at guest-physical pages that the EPT maps elsewhere) and states, by hand, the result
the SDM rule gives: result kind, physical address, page size, the guest-physical address and exit
qualification of a violation, and every accessed/dirty flag written (guest and EPT). The scenario
is then run through oracle.py and the two must agree before the line is written; a disagreement
stops the script. The written `expect` is the oracle's result without `message`.

Families follow kvm-unit-tests' x86/vmx_tests.c `ept_access_test_*` (the EPT access table, MBEC,
reserved and ignored bits, memory types, the guest paging-structure "paddr" tests, `test_ept_eptp`)
for both 4-level and 5-level EPT, then nested translation (every guest paging mode over EPT,
precedence of guest #PF and EPT exits, exit-qualification bits 7/8 and 9-11, the page-size rule,
misconfigurations met while walking guest tables), EPT A/D, `guest_physical` accesses and
malformed `ept` input.

Deterministic: a fixed seed places tables and picks addresses.

    python3 make_ept_golden.py        # rewrites ept-golden.jsonl next to this file
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

OUT = os.path.join(HERE, "ept-golden.jsonl")
rng = random.Random(0xE97C0DE5)

FULL = ["nx", "smep", "smap", "pku", "pdpe1gb", "la57", "pse", "pse36", "pge", "pcid"]
KB4, MB2, MB4, GB1 = 1 << 12, 1 << 21, 1 << 22, 1 << 30
SIZE_NAME = {KB4: "4 KiB", MB2: "2 MiB", MB4: "4 MiB", GB1: "1 GiB"}


def rbits(hi, lo):
    return ((1 << (hi - lo + 1)) - 1) << lo if hi >= lo else 0


# Guest paging-structure entry bits.
P, RW, US, A, D, PS = 1, 2, 4, 0x20, 0x40, 0x80
XD = 1 << 63
# Page-fault error-code bits.
EP, EW, EU, ER, EI = 0x1, 0x2, 0x4, 0x8, 0x10
# EPT entry bits.
R, W, X = 1, 2, 4
RWX = 7
XU = 1 << 10
EA, ED, EPS, IPAT = 1 << 8, 1 << 9, 1 << 7, 1 << 6
WB, UC = 6, 0
EPTP_AD = 1 << 6
# Exit-qualification bits.
Q_RD, Q_WR, Q_FE = 0x1, 0x2, 0x4
Q_PR, Q_PW, Q_PX, Q_PXU = 0x8, 0x10, 0x20, 0x40
Q_LV, Q_FIN = 0x80, 0x100
Q_AU, Q_AW, Q_AX = 0x200, 0x400, 0x800
# Control registers.
CR0 = 0x80010033           # PG, WP, NE, ET, MP, PE
CR0_NOWP = CR0 & ~(1 << 16)
CR4_PSE, CR4_PAE, CR4_LA57, CR4_SMEP, CR4_SMAP = 0x10, 0x20, 1 << 12, 1 << 20, 1 << 21
EFER_LONG = 0xD01          # SCE, LME, LMA, NXE
EFER_NXE = 0x800

GUEST_LEVELS = {
    "32bit": [("pde", 22, 10, 4), ("pte", 12, 10, 4)],
    "pae": [("pdpte", 30, 2, 8), ("pde", 21, 9, 8), ("pte", 12, 9, 8)],
    "4level": [("pml4e", 39, 9, 8), ("pdpte", 30, 9, 8), ("pde", 21, 9, 8), ("pte", 12, 9, 8)],
}
GUEST_LEVELS["5level"] = [("pml5e", 48, 9, 8)] + GUEST_LEVELS["4level"]
GUEST_REGS = {
    "32bit": dict(cr0=CR0, cr4=CR4_PSE, efer=0),
    "pae": dict(cr0=CR0, cr4=CR4_PAE, efer=EFER_NXE),
    "4level": dict(cr0=CR0, cr4=CR4_PAE, efer=EFER_LONG),
    "5level": dict(cr0=CR0, cr4=CR4_PAE | CR4_LA57, efer=EFER_LONG),
    "none": dict(cr0=0x11, cr4=0, efer=0),
}
EPT_NAME = {5: "pml5e", 4: "pml4e", 3: "pdpte", 2: "pde", 1: "pte"}
EPT_LEVEL = {v: k for k, v in EPT_NAME.items()}


def put(words, addr, value, esize):
    if esize == 8:
        words[addr] = value
        return
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
# Building host memory: EPT paging structures and guest paging structures.


class Path:
    """The EPT entries that translate one guest-physical page, top level first."""

    def __init__(self, gpa, hpa, size, entries, levels):
        self.gpa, self.hpa, self.size, self.entries, self.levels = gpa, hpa, size, entries, levels

    def at(self, level):
        """Host address of the entry at EPT level `level` (5 = PML5E ... 1 = PTE)."""
        return self.entries[self.levels - level]

    @property
    def leaf(self):
        return self.entries[-1]


class Host:
    """Host-physical memory with an EPT hierarchy. EPT tables and host pages that hold guest
    tables come from 1 MiB..1 GiB; pages the guest only reads or writes through (never stored)
    come from 1 GiB..2^M. Non-leaf EPT entries are RWX (and XU under MBEC)."""

    def __init__(self, M=46, levels=4, ad=False, mbec=False):
        self.M, self.levels, self.ad, self.mbec = M, levels, ad, mbec
        self.words = {}
        self.taken = set()
        self.paths = []
        self.root = self.table_page()
        self.eptp = self.root | WB | (levels - 1) << 3 | (EPTP_AD if ad else 0)

    @property
    def full(self):
        return RWX | (XU if self.mbec else 0)

    def table_page(self):
        while True:
            page = rng.randrange(0x100000, 0x40000000, KB4)
            if page not in self.taken:
                self.taken.add(page)
                return page

    def data_page(self, size=KB4):
        return rng.randrange(1 << 30, 1 << self.M, size)

    def map(self, gpa, hpa=None, size=KB4, perms=None, mt=WB, extra=0):
        """Maps the `size` page holding `gpa` to `hpa` (random when None)."""
        perms = self.full if perms is None else perms
        leaf_level = {KB4: 1, MB2: 2, GB1: 3}[size]
        if hpa is None:
            hpa = self.data_page(size)
        table = self.root
        entries = []
        for level in range(self.levels, 0, -1):
            addr = table | ((gpa >> (12 + 9 * (level - 1))) & 0x1FF) << 3
            entries.append(addr)
            if level == leaf_level:
                assert addr not in self.words, "guest-physical page mapped twice"
                self.words[addr] = (hpa | mt << 3 | (EPS if level > 1 else 0) | perms
                                    | extra)
                break
            if addr not in self.words:
                self.words[addr] = self.table_page() | self.full
            assert not (level in (2, 3) and self.words[addr] & EPS), "path through a leaf"
            table = self.words[addr] & rbits(self.M - 1, 12)
        path = Path(gpa & ~(size - 1), hpa, size, entries, self.levels)
        self.paths.append(path)
        return path

    def edit(self, path, level, on=0, off=0, perms=None, value=None):
        """Changes the entry of `path` at EPT `level`; it must not be shared with another path."""
        addr = path.at(level)
        for other in self.paths:
            if other is not path:
                assert addr not in other.entries, f"EPT entry {addr:#x} is shared"
        v = self.words[addr] if value is None else value
        if perms is not None:
            v = (v & ~(RWX | XU)) | perms
        self.words[addr] = (v | on) & ~off
        return self

    def hpa(self, path, gpa):
        return path.hpa | (gpa & (path.size - 1))


class GuestEntry:
    def __init__(self, name, gpa, hpa, size, value, path):
        self.name, self.gpa, self.hpa, self.size, self.value, self.path = (
            name, gpa, hpa, size, value, path)


class Guest:
    """Guest paging structures for one linear address. Each table is its own guest-physical
    page in one 2 MiB region below 1 GiB (or `region`), mapped by a 4 KiB EPT page to a host
    page; entries are P|R/W|U/S (PAE PDPTEs: P) and the leaf maps `final_gpa`."""

    def __init__(self, host, mode, linear=None, leaf="pte", final_gpa=None, user_page=True,
                 region=None, table_size=KB4):
        self.host, self.mode = host, mode
        names = [n for n, *_ in GUEST_LEVELS[mode]]
        self.levels = GUEST_LEVELS[mode][: names.index(leaf) + 1]
        self.leaf = leaf
        self.page_size = {"pte": KB4, "pde": MB4 if mode == "32bit" else MB2,
                          "pdpte": GB1}[leaf]
        if linear is None:
            linear = random_linear(mode)
        self.linear = linear
        if final_gpa is None:
            final_gpa = rng.randrange(1 << 30, 1 << 32, self.page_size)
        assert final_gpa % self.page_size == 0
        self.final_page = final_gpa
        if region is None:
            region = rng.randrange(0x1000000, 0x40000000, MB2)
        self.region = region
        ks = rng.sample(range(512), len(self.levels))
        pages = [region + k * KB4 for k in ks]
        if table_size == MB2:
            # All guest tables in one 2 MiB EPT page.
            big = host.map(region, hpa=rng.randrange(1 << 30, 1 << host.M, MB2), size=MB2)
            self.table_paths = [big] * len(pages)
        else:
            self.table_paths = [host.map(pg, hpa=host.table_page()) for pg in pages]
        self.cr3 = pages[0]
        if mode == "pae":
            self.cr3 += rng.randrange(0, KB4, 32)
        self.entries = []
        base = self.cr3
        for i, (name, shift, nbits, esize) in enumerate(self.levels):
            index = (linear >> shift) & ((1 << nbits) - 1)
            gpa = base + index * esize
            if mode == "pae" and i == 0:
                gpa = (self.cr3 & ~31) + index * 8
            path = self.table_paths[i]
            hpa = host.hpa(path, gpa)
            if i + 1 < len(self.levels):
                value = pages[i + 1] | (P if (mode == "pae" and i == 0) else P | RW | US)
                base = pages[i + 1]
            else:
                value = self.encode_leaf(final_gpa) | P | RW | (US if user_page else 0)
            self.entries.append(GuestEntry(name, gpa, hpa, esize, value, path))

    def encode_leaf(self, gpa):
        if self.leaf == "pte":
            return gpa
        if self.mode == "32bit":
            return (gpa & 0xFFC00000) | ((gpa >> 32) << 13) | PS
        return gpa | PS

    def entry(self, name):
        return [e for e in self.entries if e.name == name][0]

    def set(self, name, on=0, off=0):
        e = self.entry(name)
        e.value = (e.value | on) & ~off
        return self

    def set_all(self, on=0, off=0):
        for e in self.entries:
            if not (self.mode == "pae" and e.name == "pdpte"):
                e.value = (e.value | on) & ~off
        return self

    @property
    def final_gpa(self):
        return self.final_page | (self.linear & (self.page_size - 1))

    def store(self, words):
        for e in self.entries:
            put(words, e.hpa, e.value, e.size)
        return words

    def walk_entries(self):
        """Entries the guest walk reads through EPT (PAE PDPTEs come from the PDPTE load)."""
        return [e for e in self.entries if not (self.mode == "pae" and e.name == "pdpte")]

    def ad_updates(self, kind):
        """By hand: A in every entry used (not PAE PDPTEs), D in the leaf on a write; only the
        entries whose value changes."""
        out = []
        for i, e in enumerate(self.walk_entries()):
            last = e is self.entries[-1]
            flags = A | (D if last and kind == "write" else 0)
            if e.value | flags != e.value:
                out.append((e, flags))
        return out


def random_linear(mode):
    if mode in ("32bit", "pae"):
        return rng.getrandbits(32)
    width = 48 if mode == "4level" else 57
    v = rng.getrandbits(width)
    if v >> (width - 1):
        v |= ((1 << 64) - 1) ^ ((1 << width) - 1)
    return v


# ---------------------------------------------------------------------------------------------
# Hand-derived expectations.


def changes(before, after):
    return {hex(a): hex(after[a]) for a in sorted(after) if after[a] != before.get(a, 0)}


def writes(initial, ept=(), guest=()):
    """`ept`: (path, dirty) for every EPT translation that succeeded: A on each entry, D on the
    leaf when dirty (all only with EPT A/D on; callers pass nothing otherwise). `guest`:
    (GuestEntry, flags) A/D updates. Returns the changed words."""
    after = dict(initial)
    for path, dirty in ept:
        for addr in path.entries:
            after[addr] |= EA
        if dirty:
            after[path.leaf] |= ED
    for e, flags in guest:
        put(after, e.hpa, get(after, e.hpa, e.size) | flags, e.size)
    return changes(initial, after)


def table_touches(host, guest, upto=None):
    """EPT A/D from translating the guest tables read (the first `upto` walk entries):
    paging-structure accesses are writes for EPT A/D, the PAE PDPTE load a read."""
    if not host.ad:
        return []
    out = []
    if guest.mode == "pae":
        out.append((guest.entries[0].path, False))
    walk = guest.walk_entries()
    for e in walk[: len(walk) if upto is None else upto]:
        out.append((e.path, True))
    return out


def nested_ok(host, guest, final, kind, memory):
    """The result of a nested access that succeeds."""
    ept = table_touches(host, guest)
    if host.ad:
        ept.append((final, kind == "write"))
    return ("ok", host.hpa(final, guest.final_gpa), min(guest.page_size, final.size),
            writes(memory, ept, guest.ad_updates(kind)))


def op_bit(kind):
    return {"read": Q_RD, "write": Q_WR, "fetch": Q_FE}[kind]


def perm_bits(p, mbec):
    q = (p & RWX) << 3
    if mbec and p & XU:
        q |= Q_PXU
    return q


def adv(user, writable=True, xd=False):
    return (Q_AU if user else 0) | (Q_AW if writable else 0) | (Q_AX if xd else 0)


# ---------------------------------------------------------------------------------------------
# Emitting cases.

CASES = []
GROUPS = Counter()
SEEN = set()


def make_case(host, *, regs_mode="4level", guest=None, memory=None, access, M=None,
              features=None, cr0=None, cr4=None, efer=None, cr3=None, rflags=None,
              eptp=None, mbec=None):
    r = GUEST_REGS[regs_mode]
    regs = {"cr0": hex(r["cr0"] if cr0 is None else cr0),
            "cr3": hex((guest.cr3 if guest else 0x1000) if cr3 is None else cr3),
            "cr4": hex(r["cr4"] if cr4 is None else cr4),
            "efer": hex(r["efer"] if efer is None else efer)}
    if rflags is not None:
        regs["rflags"] = hex(rflags)
    ept = {"eptp": hex(host.eptp if eptp is None else eptp)}
    if host.mbec if mbec is None else mbec:
        ept["mode_based_execute"] = True
    return {"maxphyaddr": host.M if M is None else M,
            "features": FULL if features is None else features,
            "regs": regs, "ept": ept,
            "memory": {hex(a): hex(v) for a, v in sorted(memory.items())},
            "access": access}


def linear_access(guest, kind, cpl=0, linear=None):
    return {"linear": hex(guest.linear if linear is None else linear), "kind": kind, "cpl": cpl}


def gpa_access(gpa, kind, user=None):
    a = {"guest_physical": hex(gpa), "kind": kind}
    if user is not None:
        a["user"] = user
    return a


def emit(group, cid, reason, case, want):
    """`want`: ("ok", physical, page_size, writes), ("violation", gpa, qualification, writes),
    ("misconfig", gpa), ("pf", error_code, writes), "gp" or "invalid"."""
    cid = f"{group}-{cid}"
    assert cid not in SEEN, cid
    SEEN.add(cid)
    case = {"id": cid, **case}
    if want == "gp":
        hand = {"id": cid, "result": "general-protection"}
    elif want == "invalid":
        hand = {"id": cid, "result": "invalid"}
    elif want[0] == "ok":
        hand = {"id": cid, "result": "ok", "physical": hex(want[1]), "page_size": want[2],
                "writes": want[3]}
    elif want[0] == "violation":
        hand = {"id": cid, "result": "ept-violation", "guest_physical": hex(want[1]),
                "exit_qualification": hex(want[2]), "writes": want[3]}
    elif want[0] == "misconfig":
        hand = {"id": cid, "result": "ept-misconfiguration", "guest_physical": hex(want[1])}
    elif want[0] == "pf":
        hand = {"id": cid, "result": "page-fault", "error_code": hex(want[1]),
                "writes": want[2]}
    else:
        raise ValueError(want)
    got = oracle.strip_message(oracle.run(case))
    if got != hand:
        sys.exit(f"hand expectation and oracle disagree on {cid}:\n hand   {hand}\n"
                 f" oracle {got}")
    rec = dict(case)
    rec["reason"] = reason
    rec["expect"] = got
    CASES.append(rec)
    GROUPS[group] += 1


def perm_name(p, mbec=False):
    s = ("r" if p & R else "-") + ("w" if p & W else "-") + ("x" if p & X else "-")
    if mbec:
        s = s[:2] + ("s" if p & X else "-") + ("u" if p & XU else "-")
    return s


# ---------------------------------------------------------------------------------------------
# The kvm-unit-tests EPT access table (vmx_tests.c ept_access_test_*), 4- and 5-level EPT.

# op: (kind, cpl, guest page U/S)
OPS = {"read": ("read", 0, False), "write": ("write", 0, False),
       "exec": ("fetch", 0, False), "exec-user": ("fetch", 3, True)}

# Positions: (name, EPT level edited, EPT page size of the final mapping)
POSITIONS = [("pte", 1, KB4), ("pde", 2, KB4), ("pdpte", 3, KB4), ("pml4e", 4, KB4),
             ("pml5e", 5, KB4), ("pde-2m", 2, MB2), ("pdpte-1g", 3, GB1)]

EPT_SETUPS = {
    # 4-level EPT: MAXPHYADDR 46, EPT A/D on, guest 4-level paging, test page at GPA 2^39 + x
    # (its own PML4E, as in kvm-unit-tests).
    4: dict(M=46, ad=True, guest="4level", test_base=1 << 39),
    # 5-level EPT: MAXPHYADDR 52, EPT A/D off, guest 5-level paging, test page above 2^48 (its
    # own PML5E).
    5: dict(M=52, ad=False, guest="5level", test_base=0x3_0000_0000_0000),
}


def test_gpa(setup, size=KB4):
    return setup["test_base"] + rng.randrange(0, GB1, size)


def access_scenario(levels, ept_size, user_page, mbec=False, ad=None, M=None, test_base=None):
    """Host + guest for one linear access whose final page is `test GPA`; the EPT entries of the
    test page are not shared with the guest tables' (own top-level entry)."""
    setup = dict(EPT_SETUPS[levels])
    if ad is not None:
        setup["ad"] = ad
    if M is not None:
        setup["M"] = M
    if test_base is not None:
        setup["test_base"] = test_base
    host = Host(M=setup["M"], levels=levels, ad=setup["ad"], mbec=mbec)
    gpa = test_gpa(setup)
    guest = Guest(host, setup["guest"], final_gpa=gpa, user_page=user_page)
    final = host.map(gpa, size=ept_size)
    return host, guest, final


def required(kind, user, mbec):
    if kind == "read":
        return R
    if kind == "write":
        return W
    return XU if (mbec and user) else X


def access_table():
    for levels in (4, 5):
        group = f"ept{levels}-access"
        for pos, level, size in POSITIONS:
            if level > levels:
                continue
            for p in range(8):
                for op, (kind, cpl, user) in OPS.items():
                    host, guest, final = access_scenario(levels, size, user)
                    host.edit(final, level, perms=p)
                    mem = guest.store(dict(host.words))
                    case = make_case(host, regs_mode=guest.mode, guest=guest, memory=mem,
                                     access=linear_access(guest, kind, cpl))
                    where = (f"the {SIZE_NAME[size]} EPT leaf {pos.split('-')[0].upper()}"
                             if level == {KB4: 1, MB2: 2, GB1: 3}[size]
                             else f"the EPT {pos.upper()}")
                    who = "CPL3 fetch from a user page" if op == "exec-user" else \
                        f"CPL0 {kind} of a supervisor page"
                    gpa = guest.final_gpa
                    if p in (W, W | X):
                        want = ("misconfig", gpa)
                        why = (f"XWR={p:03b} (write without read) is a misconfiguration at "
                               "any level")
                    elif p == 0:
                        want = ("violation", gpa,
                                op_bit(kind) | Q_LV | Q_FIN | adv(user),
                                writes(mem, table_touches(host, guest)))
                        why = ("not present: violation, no permission bits (the AND includes the "
                               "empty entry); guest A/D not set, EPT A/D only for the guest "
                               "tables" if host.ad else "not present: violation, no permission "
                               "bits; nothing written")
                    elif p & required(kind, user, False):
                        want = nested_ok(host, guest, final, kind, mem)
                        why = "allowed" + (", execute-only" if p == X else "") + \
                            "; guest A/D then " + ("EPT A/D set" if host.ad else
                                                   "no EPT A/D (EPTP bit 6 clear)")
                    else:
                        want = ("violation", gpa,
                                op_bit(kind) | perm_bits(p, False) | Q_LV | Q_FIN | adv(user),
                                writes(mem, table_touches(host, guest)))
                        why = (f"denied: qualification = access bit, permission bits {p:03b} "
                               "(XWR), linear valid, final translation, advanced info "
                               f"{'user, ' if user else ''}writable")
                    emit(group, f"{pos}-{perm_name(p)}-{op}",
                         f"{levels}-level EPT, {where} has {perm_name(p)}, the rest RWX; {who}: "
                         f"{why}", case, want)


# ---------------------------------------------------------------------------------------------
# Mode-based execute control (MBEC): XS (bit 2) for supervisor-mode linear addresses, XU
# (bit 10) for user-mode ones; qualification bit 6 = AND of XU.

MBEC_PERMS = [XU, X, X | XU, R | XU, R | X, R | X | XU, R | W | XU, R | W | X | XU, R | W | X,
              W | XU]


def mbec():
    for levels, positions in ((4, [("pte", 1), ("pde", 2)]), (5, [("pte", 1), ("pml5e", 5)])):
        group = f"ept{levels}-mbec"
        for pos, level in positions:
            for p in MBEC_PERMS:
                for op, (kind, cpl, user) in OPS.items():
                    host, guest, final = access_scenario(levels, KB4, user, mbec=True,
                                                         ad=(levels == 5))
                    host.edit(final, level, perms=p)
                    mem = guest.store(dict(host.words))
                    case = make_case(host, regs_mode=guest.mode, guest=guest, memory=mem,
                                     access=linear_access(guest, kind, cpl))
                    gpa = guest.final_gpa
                    who = "CPL3 fetch from a user page (XU)" if op == "exec-user" else (
                        "CPL0 fetch from a supervisor page (XS)" if op == "exec" else
                        f"CPL0 {kind}")
                    if p & W and not p & R:
                        want = ("misconfig", gpa)
                        why = "write without read is a misconfiguration, XU or not"
                    elif p & required(kind, user, True):
                        want = nested_ok(host, guest, final, kind, mem)
                        why = "allowed"
                    else:
                        want = ("violation", gpa, op_bit(kind) | perm_bits(p, True) | Q_LV
                                | Q_FIN | adv(user), writes(mem, table_touches(host, guest)))
                        why = "denied: bits 5 and 6 report XS and XU"
                    emit(group, f"{pos}-{perm_name(p, True)}-{op}",
                         f"MBEC, {levels}-level EPT {pos.upper()} is {perm_name(p, True)} "
                         f"(r w xs xu), the rest full; {who}: {why}", case, want)

    # Supervisor fetch from a user page (SMEP off): the linear address is user-mode, so XU.
    for p, ok in ((XU | R, True), (X | R, False)):
        host, guest, final = access_scenario(4, KB4, True, mbec=True)
        host.edit(final, 1, perms=p)
        mem = guest.store(dict(host.words))
        case = make_case(host, regs_mode="4level", guest=guest, memory=mem,
                         access=linear_access(guest, "fetch", 0))
        want = nested_ok(host, guest, final, "fetch", mem) if ok else (
            "violation", guest.final_gpa, Q_FE | perm_bits(p, True) | Q_LV | Q_FIN | adv(True),
            writes(mem, table_touches(host, guest)))
        emit("ept4-mbec", f"cpl0-fetch-user-page-{perm_name(p, True)}",
             f"MBEC: a CPL0 fetch from a user page (SMEP off) uses a user-mode linear address, "
             f"so XU decides, not CPL: leaf {perm_name(p, True)} "
             f"{'allows' if ok else 'denies'} it", case, want)
    # CPL3 fetch from a supervisor page: the guest #PF comes first.
    host, guest, final = access_scenario(4, KB4, False, mbec=True)
    host.edit(final, 1, perms=R)
    mem = guest.store(dict(host.words))
    case = make_case(host, regs_mode="4level", guest=guest, memory=mem,
                     access=linear_access(guest, "fetch", 3))
    emit("ept4-mbec", "cpl3-fetch-supervisor-page-guest-pf-first",
         "MBEC: CPL3 fetch from a supervisor page whose EPT leaf has no XS/XU: the guest "
         "#PF (P|U|I/D) is raised before the final EPT translation", case,
         ("pf", EP | EU | EI, writes(mem, table_touches(host, guest))))
    # XU ignored without MBEC.
    for p, ok in ((XU, False), (R | XU, True)):
        host, guest, final = access_scenario(4, KB4, True, ad=False)
        host.edit(final, 1, perms=p)
        mem = guest.store(dict(host.words))
        case = make_case(host, regs_mode="4level", guest=guest, memory=mem,
                         access=linear_access(guest, "read", 3))
        want = nested_ok(host, guest, final, "read", mem) if ok else (
            "violation", guest.final_gpa, Q_RD | Q_LV | Q_FIN | adv(True), {})
        emit("ept4-mbec", f"off-leaf-{'r-' if p & R else ''}xu-only",
             "MBEC off: bit 10 is ignored, so an entry with only bit 10 "
             + ("and R is a read-only page: the read is allowed" if ok else
                "is not present: violation, bit 6 reported 0"), case, want)
    for on_mbec in (False, True):
        host, guest, final = access_scenario(4, KB4, True, ad=False, mbec=on_mbec)
        host.edit(final, 4, perms=XU, on=1 << 3)
        mem = guest.store(dict(host.words))
        case = make_case(host, regs_mode="4level", guest=guest, memory=mem,
                         access=linear_access(guest, "fetch", 3))
        if on_mbec:
            want, why = ("misconfig", guest.final_gpa), (
                "with MBEC an XU-only PML4E is present, so its reserved bit 3 is a "
                "misconfiguration")
        else:
            want, why = ("violation", guest.final_gpa, Q_FE | Q_LV | Q_FIN | adv(True), {}), (
                "without MBEC a PML4E with only bit 10 is not present, so its reserved bit 3 "
                "is ignored: violation")
        emit("ept4-mbec", f"{'on' if on_mbec else 'off'}-pml4e-xu-only-reserved-bit3",
             why, case, want)
    # The user-mode/supervisor-mode decision uses U/S of every guest entry, not the leaf's.
    for p in (X | R, XU | R):
        host, guest, final = access_scenario(4, KB4, True, mbec=True, ad=False)
        guest.set("pml4e", off=US)
        host.edit(final, 1, perms=p)
        mem = guest.store(dict(host.words))
        ok = bool(p & X)
        emit("ept4-mbec", f"cpl0-fetch-pml4e-supervisor-leaf-user-{perm_name(p, True)}",
             "MBEC: guest PML4E U/S=0 and PTE U/S=1 make a supervisor-mode linear address, so "
             f"a CPL0 fetch checks XS; leaf {perm_name(p, True)} "
             + ("allows it" if ok else "denies it (advanced info: not user-mode)"),
             make_case(host, regs_mode="4level", guest=guest, memory=mem,
                       access=linear_access(guest, "fetch", 0)),
             nested_ok(host, guest, final, "fetch", mem) if ok else
             ("violation", guest.final_gpa, Q_FE | perm_bits(p, True) | Q_LV | Q_FIN | Q_AW,
              {}))
    host, guest, final = access_scenario(4, KB4, True, ad=False)
    host.edit(final, 1, perms=R | XU)
    mem = guest.store(dict(host.words))
    case = make_case(host, regs_mode="4level", guest=guest, memory=mem,
                     access=linear_access(guest, "fetch", 3))
    emit("ept4-mbec", "off-user-fetch-xu-without-x",
         "MBEC off: a user fetch needs bit 2 (X); bit 10 is ignored and qualification bit 6 is "
         "0", case, ("violation", guest.final_gpa, Q_FE | Q_PR | Q_LV | Q_FIN | adv(True), {}))
    for levels in (4, 5):
        host, guest, final = access_scenario(levels, KB4, True, ad=False)
        for level in range(levels, 0, -1):
            host.edit(final, level, on=XU)
        host.edit(final, 1, perms=R | XU)
        mem = guest.store(dict(host.words))
        emit(f"ept{levels}-mbec", "off-xu-in-every-entry-write",
             f"MBEC off, bit 10 set in every {levels}-level EPT entry of the page, leaf r--: "
             "the write violates with WR|PERM_RD; qualification bit 6 stays 0 (undefined "
             "without MBEC)",
             make_case(host, regs_mode=guest.mode, guest=guest, memory=mem,
                       access=linear_access(guest, "write", 3)),
             ("violation", guest.final_gpa, Q_WR | Q_PR | Q_LV | Q_FIN | adv(True), {}))
    # guest_physical fetch: `user` picks XS or XU.
    for levels in (4, 5):
        for p in (X | R, XU | R, X | XU):
            for user in (False, True):
                host = Host(M=46 if levels == 4 else 52, levels=levels, mbec=True)
                gpa = rng.randrange(0, 1 << 40)
                final = host.map(gpa, perms=p)
                case = make_case(host, memory=dict(host.words),
                                 access=gpa_access(gpa, "fetch", user))
                need = XU if user else X
                want = ("ok", host.hpa(final, gpa), KB4, {}) if p & need else (
                    "violation", gpa, Q_FE | perm_bits(p, True), {})
                emit(f"ept{levels}-mbec", f"gpa-fetch-{perm_name(p, True)}-"
                     f"{'user' if user else 'supervisor'}",
                     f"MBEC guest_physical fetch with user={str(user).lower()}: "
                     f"{'XU' if user else 'XS'} decides; leaf {perm_name(p, True)} "
                     f"{'allows it' if p & need else 'denies it (no linear address: bit 7 = 0)'}",
                     case, want)
    # Paging off: the linear address is user-mode, so XU.
    for p in (X | R, XU | R):
        host = Host(M=46, levels=4, mbec=True)
        lin = rng.randrange(0, 1 << 32)
        final = host.map(lin, perms=p)
        case = make_case(host, regs_mode="none", memory=dict(host.words),
                         access={"linear": hex(lin), "kind": "fetch", "cpl": 0})
        ok = bool(p & XU)
        want = ("ok", host.hpa(final, lin), KB4, {}) if ok else (
            "violation", lin, Q_FE | perm_bits(p, True) | Q_LV | Q_FIN | Q_AU | Q_AW, {})
        emit("ept4-mbec", f"paging-off-fetch-{perm_name(p, True)}",
             "MBEC with guest paging off: every linear address is user-mode, so a CPL0 fetch "
             f"checks XU; leaf {perm_name(p, True)} {'allows' if ok else 'denies'} it"
             + ("" if ok else " (advanced info: user, writable)"), case, want)


# ---------------------------------------------------------------------------------------------
# Reserved bits (misconfiguration) per level, MAXPHYADDR..51, large-page alignment bits.


def reserved_bits():
    kinds = [("read", 0, False), ("write", 0, False), ("fetch", 0, False), ("fetch", 3, True)]

    def one(levels, M, pos, level, size, bit, n, present=True):
        kind, cpl, user = kinds[n % 4]
        if levels == 4:
            base = 1 << 39 if M > 39 else 1 << 35   # own PML4E, or own PDPTE under MAXPHYADDR 36
        else:
            base = 0x3_0000_0000_0000               # own PML5E
        host, guest, final = access_scenario(levels, size, user, M=M, test_base=base)
        if present:
            host.edit(final, level, on=1 << bit)
        else:
            host.edit(final, level, on=1 << bit, perms=0)
        mem = guest.store(dict(host.words))
        case = make_case(host, regs_mode=guest.mode, guest=guest, memory=mem,
                         access=linear_access(guest, kind, cpl))
        name = pos.upper().replace("-2M", " (2 MiB leaf)").replace("-1G", " (1 GiB leaf)")
        if present:
            emit(f"ept{levels}-rsvd", f"m{M}-{pos}-bit{bit}",
                 f"{levels}-level EPT, MAXPHYADDR {M}: bit {bit} of the {name} is reserved: "
                 f"misconfiguration for the final GPA (access: {kind}, CPL{cpl})", case,
                 ("misconfig", guest.final_gpa))
        else:
            emit(f"ept{levels}-rsvd", f"m{M}-{pos}-bit{bit}-not-present",
                 f"{levels}-level EPT: reserved bit {bit} in a not-present {name} is ignored: "
                 f"violation with only the access bit, linear valid, final", case,
                 ("violation", guest.final_gpa, op_bit(kind) | Q_LV | Q_FIN | adv(user),
                  writes(mem, table_touches(host, guest))))

    n = 0
    # 4-level EPT.
    for M in (46, 36):
        high = (M, 51) if M == 46 else (M, 40, 47)
        table = [("pml4e", 4, KB4, list(range(3, 8))), ("pdpte", 3, KB4, list(range(3, 7))),
                 ("pde", 2, KB4, list(range(3, 7))), ("pte", 1, KB4, []),
                 ("pdpte-1g", 3, GB1, list(range(12, 30))), ("pde-2m", 2, MB2,
                                                             list(range(12, 21)))]
        for pos, level, size, low in table:
            if M == 36 and pos == "pml4e":
                continue          # below 2^36 the test page shares the guest tables' PML4E
            for bit in (low if M == 46 else low[:1]) + list(high):
                one(4, M, pos, level, size, bit, n)
                n += 1
        if M == 46:
            for pos, level, size, low in table:
                one(4, M, pos, level, size, (low or [51])[0], n, present=False)
                n += 1
    # 5-level EPT, MAXPHYADDR 50 (address bits 51:50 reserved).
    table5 = [("pml5e", 5, KB4, list(range(3, 8))), ("pml4e", 4, KB4, [3, 7]),
              ("pdpte", 3, KB4, [3, 6]), ("pde", 2, KB4, [4, 5]), ("pte", 1, KB4, []),
              ("pdpte-1g", 3, GB1, [12, 20, 29]), ("pde-2m", 2, MB2, [12, 16, 20])]
    for pos, level, size, low in table5:
        for bit in low + [50, 51]:
            one(5, 50, pos, level, size, bit, n)
            n += 1
    for pos, level, size, low in table5[:2]:
        one(5, 50, pos, level, size, low[0], n, present=False)
        n += 1
    # MAXPHYADDR 52: bit 51 is an address bit, not reserved.
    host = Host(M=52, levels=5)
    gpa = 0xF_1234_5678_9000
    final = host.map(gpa, hpa=(1 << 51) | 0x1234_5000)
    case = make_case(host, memory=dict(host.words), access=gpa_access(gpa | 0x88, "read"))
    emit("ept5-rsvd", "m52-pte-bit51-address",
         "MAXPHYADDR 52: bit 51 of an EPT PTE is host address bit 51, not reserved", case,
         ("ok", (1 << 51) | 0x1234_5088, KB4, {}))
    # Misconfiguration lower down wins over a permission the upper levels deny; an upper
    # not-present entry stops the walk before a lower misconfiguration.
    host, guest, final = access_scenario(4, KB4, False, ad=False)
    host.edit(final, 3, perms=R).edit(final, 1, on=1 << 50)
    mem = guest.store(dict(host.words))
    emit("ept4-rsvd", "misconfig-beats-upper-read-only",
         "write through a read-only EPT PDPTE to a PTE with reserved bit 50: the walk meets "
         "the misconfiguration before permissions are checked, so misconfiguration",
         make_case(host, regs_mode="4level", guest=guest, memory=mem,
                   access=linear_access(guest, "write")), ("misconfig", guest.final_gpa))
    host, guest, final = access_scenario(4, KB4, False, ad=False)
    host.edit(final, 3, perms=0).edit(final, 1, perms=W)
    mem = guest.store(dict(host.words))
    emit("ept4-rsvd", "not-present-above-misconfig",
         "not-present EPT PDPTE above a write-only (misconfigured) PTE: the walk stops at the "
         "PDPTE, violation with no permission bits",
         make_case(host, regs_mode="4level", guest=guest, memory=mem,
                   access=linear_access(guest, "read")),
         ("violation", guest.final_gpa, Q_RD | Q_LV | Q_FIN | Q_AW, {}))
    # Memory type bits in a non-leaf PDE are reserved.
    host, guest, final = access_scenario(4, KB4, False, ad=False)
    host.edit(final, 2, on=WB << 3)
    mem = guest.store(dict(host.words))
    emit("ept4-rsvd", "nonleaf-pde-memtype-wb",
         "memory type WB (bits 5:3) in an EPT PDE that references a table: bits 6:3 are "
         "reserved there, misconfiguration",
         make_case(host, regs_mode="4level", guest=guest, memory=mem,
                   access=linear_access(guest, "read")), ("misconfig", guest.final_gpa))


# ---------------------------------------------------------------------------------------------
# Ignored bits (vmx_tests.c ept_access_test_ignored_bits): 8, 9, 10 (no MBEC), 11, 52-63.


def ignored_bits():
    n = 0
    kinds = ["read", "write", "fetch"]
    leaf_bits = [7, 8, 9, 10, 11] + list(range(52, 64))
    other_bits = [8, 9, 10, 11, 52, 63]
    plan = [(4, "pte", 1, KB4, leaf_bits), (4, "pde", 2, KB4, other_bits),
            (4, "pdpte", 3, KB4, other_bits), (4, "pml4e", 4, KB4, other_bits),
            (4, "pde-2m", 2, MB2, other_bits), (4, "pdpte-1g", 3, GB1, other_bits),
            (5, "pml5e", 5, KB4, other_bits), (5, "pte", 1, KB4, [11, 52, 63])]
    for levels, pos, level, size, bitlist in plan:
        for bit in bitlist:
            kind = kinds[n % 3]
            n += 1
            host, guest, final = access_scenario(levels, size, False, ad=False)
            host.edit(final, level, on=1 << bit)
            mem = guest.store(dict(host.words))
            case = make_case(host, regs_mode=guest.mode, guest=guest, memory=mem,
                             access=linear_access(guest, kind))
            what = {7: "bit 7 of an EPT PTE", 8: "bit 8 (A, EPT A/D off)",
                    9: "bit 9 (D, EPT A/D off)", 10: "bit 10 (XU, MBEC off)"}.get(
                bit, f"bit {bit}")
            emit(f"ept{levels}-ignored", f"{pos}-bit{bit}",
                 f"{levels}-level EPT: {what} of the {pos.upper()} is ignored: the {kind} "
                 "translates normally and the bit stays as it was", case,
                 nested_ok(host, guest, final, kind, mem))
    # IPAT (bit 6 of a leaf) changes only the memory type.
    for size in (KB4, MB2):
        host, guest, final = access_scenario(4, size, False, ad=False)
        host.edit(final, {KB4: 1, MB2: 2}[size], on=IPAT)
        mem = guest.store(dict(host.words))
        emit("ept4-ignored", f"ipat-{SIZE_NAME[size].replace(' ', '').lower()}",
             f"IPAT (bit 6) in a {SIZE_NAME[size]} EPT leaf only affects the memory type: "
             "the write translates normally",
             make_case(host, regs_mode="4level", guest=guest, memory=mem,
                       access=linear_access(guest, "write")),
             nested_ok(host, guest, final, "write", mem))
    # With A/D on, bits 8/9 already set are not written again and do not affect translation.
    host, guest, final = access_scenario(4, KB4, False, ad=True)
    for level in (4, 3, 2):
        host.edit(final, level, on=EA | ED)
    host.edit(final, 1, on=EA | ED)
    mem = guest.store(dict(host.words))
    emit("ept4-ignored", "ad-on-bits-8-9-preset",
         "EPT A/D on, A and D already set in every entry of the final page's walk (D in "
         "non-leaf entries is ignored): nothing to write there; only the guest-table EPT "
         "entries and guest flags change",
         make_case(host, regs_mode="4level", guest=guest, memory=mem,
                   access=linear_access(guest, "write")),
         nested_ok(host, guest, final, "write", mem))


# ---------------------------------------------------------------------------------------------
# Memory types 0-7 in the leaf (2, 3, 7 are misconfigurations).


def memory_types():
    for levels, sizes in ((4, (KB4, MB2, GB1)), (5, (KB4, MB2))):
        for size in sizes:
            for mt in range(8):
                kind = ("read", "write", "fetch")[mt % 3]
                host, guest, final = access_scenario(levels, size, False, ad=False)
                host.edit(final, {KB4: 1, MB2: 2, GB1: 3}[size],
                          value=(host.words[final.leaf] & ~(7 << 3)) | mt << 3)
                mem = guest.store(dict(host.words))
                case = make_case(host, regs_mode=guest.mode, guest=guest, memory=mem,
                                 access=linear_access(guest, kind))
                bad = mt in (2, 3, 7)
                name = {0: "UC", 1: "WC", 2: "reserved", 3: "reserved", 4: "WT", 5: "WP",
                        6: "WB", 7: "reserved"}[mt]
                emit(f"ept{levels}-memtype", f"{SIZE_NAME[size].replace(' ', '').lower()}-mt{mt}",
                     f"{levels}-level EPT {SIZE_NAME[size]} leaf with memory type {mt} ({name}): "
                     + ("misconfiguration" if bad else f"valid, the {kind} translates"), case,
                     ("misconfig", guest.final_gpa) if bad else
                     nested_ok(host, guest, final, kind, mem))


# ---------------------------------------------------------------------------------------------
# Guest paging-structure accesses through EPT (vmx_tests.c ept_access_test_paddr_*): the EPT
# mapping of the guest page-table page (holding the PTE) is changed.

PADDR_PERMS = [("none", 0), ("r", R), ("rw", R | W), ("rwx", RWX), ("rx", R | X), ("x", X)]
GUEST_AD = [("a0d0", 0), ("a1d0", A), ("a1d1", A | D)]


def paddr_one(levels, perms, ad, gflags, op, level_name="pte", upper_a=True, M=None):
    kind, cpl, user = OPS[op]
    host, guest, final = access_scenario(levels, KB4, user, ad=ad, M=M)
    if upper_a:
        guest.set_all(on=A)
        guest.set("pte", off=A | D)
    guest.set("pte", on=gflags)
    target = guest.entry(level_name)
    host.edit(target.path, 1, perms=perms)
    mem = guest.store(dict(host.words))
    case = make_case(host, regs_mode=guest.mode, guest=guest, memory=mem,
                     access=linear_access(guest, kind, cpl))
    walk = guest.walk_entries()
    k = walk.index(target)
    # The read of the target entry: read, and write too when EPT A/D is on.
    need = R | (W if ad else 0)
    acc = Q_RD | (Q_WR if ad else 0)
    if perms & need != need:
        return case, ("violation", target.gpa, acc | perm_bits(perms, False) | Q_LV,
                      writes(mem, table_touches(host, guest, upto=k))), \
            ("the walk's " + ("write-treated " if ad else "") + "read of the guest "
             f"{level_name.upper()} is denied (bit 8 = 0: paging-structure access)")
    # Final translation succeeds (RWX); then guest A/D updates, top level first.
    ups = guest.ad_updates(kind)
    done = []
    for e, flags in ups:
        if e.path is target.path and not perms & W:
            ept = table_touches(host, guest)
            if host.ad:
                ept.append((final, kind == "write"))
            return case, ("violation", e.gpa, Q_RD | Q_WR | perm_bits(perms, False) | Q_LV,
                          writes(mem, ept, done)), \
                (f"the guest {e.name.upper()} needs "
                 f"{'A' if flags == A else ('D' if e.value & A else 'A and D')}: a "
                 "read-modify-write without EPT write permission, qualification RD|WR, bit 8 = "
                 "0, after the final translation")
        done.append((e, flags))
    return case, nested_ok(host, guest, final, kind, mem), "no fault"


def paddr():
    for perm_name_, perms in PADDR_PERMS:
        for ad in (False, True):
            for gname, gflags in GUEST_AD:
                for op in OPS:
                    case, want, why = paddr_one(4, perms, ad, gflags, op)
                    emit("ept4-paddr", f"pte-page-{perm_name_}-ad{'on' if ad else 'off'}-"
                         f"{gname}-{op}",
                         f"guest PTE page mapped {perm_name_} in EPT, EPT A/D "
                         f"{'on' if ad else 'off'}, guest PTE {gname.upper()}, {op}: {why}",
                         case, want)
    for perm_name_, perms in PADDR_PERMS[:2]:
        for ad in (False, True):
            for gname, gflags in GUEST_AD[:2]:
                for op in ("read", "write"):
                    case, want, why = paddr_one(5, perms, ad, gflags, op)
                    emit("ept5-paddr", f"pte-page-{perm_name_}-ad{'on' if ad else 'off'}-"
                         f"{gname}-{op}",
                         f"5-level EPT: guest PTE page mapped {perm_name_}, EPT A/D "
                         f"{'on' if ad else 'off'}, guest PTE {gname.upper()}, {op}: {why}",
                         case, want)
    # Other guest levels, and upper A bits that are set before the violating update.
    for level_name in ("pml4e", "pdpte", "pde"):
        for ad in (False, True):
            case, want, why = paddr_one(4, R, ad, A, "read", level_name=level_name,
                                        upper_a=False)
            emit("ept4-paddr", f"{level_name}-page-r-ad{'on' if ad else 'off'}-upper-a0-read",
                 f"guest {level_name.upper()} page read-only in EPT, EPT A/D "
                 f"{'on' if ad else 'off'}, guest A=0 above the PTE: {why}"
                 + ("; A already set in the entries above it stays set" if not ad else ""),
                 case, want)
    case, want, why = paddr_one(4, R, False, 0, "write", upper_a=False)
    emit("ept4-paddr", "pte-page-r-adoff-all-a0-write",
         "guest PTE page read-only, EPT A/D off, every guest A=0, write: the PML4E, PDPTE and "
         "PDE get A (their pages are writable) before the PTE's A|D update violates", case, want)


# ---------------------------------------------------------------------------------------------
# EPTP validity (vmx_tests.c test_ept_eptp).


def eptp_case(host, gpa, eptp, M=None):
    return make_case(host, memory=dict(host.words), access=gpa_access(gpa, "read"),
                     eptp=eptp, M=M)


def eptp_validity():
    for levels in (4, 5):
        for mt in range(8):
            host = Host(M=46, levels=levels)
            gpa = rng.randrange(0, 1 << 46)
            final = host.map(gpa)
            eptp = (host.eptp & ~7) | mt
            ok = mt in (0, 6)
            emit("eptp", f"pwl{levels - 1}-memtype{mt}",
                 f"EPTP memory type {mt}: " + ("UC/WB is supported, the read translates" if ok
                                               else "only UC (0) and WB (6) are valid: invalid"),
                 eptp_case(host, gpa, eptp),
                 ("ok", host.hpa(final, gpa), KB4, {}) if ok else "invalid")
    for pwl in range(8):
        for ad in (False, True):
            levels = pwl + 1 if pwl in (3, 4) else 4
            host = Host(M=46, levels=levels, ad=ad)
            gpa = rng.randrange(0, 1 << 46)
            final = host.map(gpa)
            eptp = (host.eptp & ~(7 << 3)) | pwl << 3
            ok = pwl in (3, 4)
            emit("eptp", f"pwl{pwl}-ad{'on' if ad else 'off'}",
                 f"EPTP page-walk length field {pwl} (bits 5:3), A/D {'on' if ad else 'off'}: "
                 + (f"{pwl + 1}-level EPT, valid" if ok else "only 3 and 4 are valid: invalid"),
                 eptp_case(host, gpa, eptp),
                 ("ok", host.hpa(final, gpa), KB4,
                  writes(host.words, [(final, False)]) if ad else {}) if ok else "invalid")
    for levels in (4, 5):
        for v in (range(32) if levels == 4 else (1, 2, 4, 8, 16)):
            host = Host(M=46, levels=levels)
            gpa = rng.randrange(0, 1 << 46)
            final = host.map(gpa)
            eptp = host.eptp | v << 7
            emit("eptp", f"pwl{levels - 1}-bits11-7-{v:#04x}",
                 f"EPTP bits 11:7 = {v:05b}: " + ("all zero, valid" if v == 0 else
                                                  "reserved bits set: invalid"),
                 eptp_case(host, gpa, eptp),
                 ("ok", host.hpa(final, gpa), KB4, {}) if v == 0 else "invalid")
    for M, bitlist in ((46, (46, 47, 51, 52, 63)), (36, (36, 39, 45)), (52, (52, 58, 63))):
        for bit in bitlist:
            host = Host(M=M, levels=4 if M < 52 else 5)
            gpa = rng.randrange(0, 1 << min(M, 40))
            host.map(gpa)
            emit("eptp", f"m{M}-bit{bit}",
                 f"EPTP bit {bit} is at or above MAXPHYADDR ({M}): invalid",
                 eptp_case(host, gpa, host.eptp | 1 << bit), "invalid")
    # The top address bit below MAXPHYADDR: the EPT PML4 table sits there.
    for M in (36, 46):
        host = Host(M=M, levels=4)
        top = (1 << (M - 1)) | rng.randrange(0, 1 << 20, KB4)
        # Move the root table to `top`.
        host.root = top
        host.eptp = top | WB | 3 << 3
        gpa = rng.randrange(0, 1 << 30)
        final = host.map(gpa)
        emit("eptp", f"m{M}-root-at-bit{M - 1}",
             f"EPTP address bit {M - 1} (just below MAXPHYADDR {M}) is an address bit: the "
             "EPT PML4 table is read there", eptp_case(host, gpa, host.eptp),
             ("ok", host.hpa(final, gpa), KB4, {}))
    # An invalid EPTP makes a linear access invalid too, before any walk or #GP.
    host, guest, final = access_scenario(4, KB4, False)
    mem = guest.store(dict(host.words))
    emit("eptp", "invalid-with-linear-access",
         "EPTP memory type 1 (WC) with a linear access: the state cannot exist, invalid",
         make_case(host, regs_mode="4level", guest=guest, memory=mem,
                   access=linear_access(guest, "read"), eptp=(host.eptp & ~7) | 1), "invalid")
    emit("eptp", "invalid-beats-noncanonical",
         "EPTP page-walk length 5 (field 5) with a non-canonical linear address: invalid, "
         "not #GP",
         make_case(host, regs_mode="4level", guest=guest, memory=mem,
                   access={"linear": "0x800000000000", "kind": "read", "cpl": 0},
                   eptp=(host.eptp & ~(7 << 3)) | 5 << 3), "invalid")


# ---------------------------------------------------------------------------------------------
# EPT A/D.


def ept_ad():
    sizes = (KB4, MB2, GB1)
    for levels in (4, 5):
        for size in sizes:
            for kind in ("read", "write", "fetch"):
                for ad in (True, False):
                    host = Host(M=46 if levels == 4 else 52, levels=levels, ad=ad)
                    gpa = rng.randrange(0, 1 << (40 if levels == 4 else 51))
                    final = host.map(gpa, size=size)
                    case = make_case(host, memory=dict(host.words),
                                     access=gpa_access(gpa, kind))
                    w = writes(host.words, [(final, kind == "write")]) if ad else {}
                    emit(f"ept{levels}-ad", f"gpa-{SIZE_NAME[size].replace(' ', '').lower()}-"
                         f"{kind}-ad{'on' if ad else 'off'}",
                         f"guest_physical {kind} through a {SIZE_NAME[size]} EPT page, EPT A/D "
                         + ("on: A set in every EPT entry used"
                            + (", D in the leaf" if kind == "write" else " (no D: not a write)")
                            if ad else "off: bits 8/9 are never written"),
                         case, ("ok", host.hpa(final, gpa), size, w))
    # Already-set flags.
    host = Host(M=46, levels=4, ad=True)
    gpa = rng.randrange(0, 1 << 40)
    final = host.map(gpa)
    for addr in final.entries:
        host.words[addr] |= EA
    emit("ept4-ad", "gpa-write-a-set-d-clear",
         "EPT A/D on, A already set everywhere, D clear: a write sets only the leaf's D",
         make_case(host, memory=dict(host.words), access=gpa_access(gpa, "write")),
         ("ok", host.hpa(final, gpa), KB4, {hex(final.leaf): hex(host.words[final.leaf] | ED)}))
    emit("ept4-ad", "gpa-read-a-set",
         "EPT A/D on, A already set everywhere: a read writes nothing",
         make_case(host, memory=dict(host.words), access=gpa_access(gpa, "read")),
         ("ok", host.hpa(final, gpa), KB4, {}))
    # Violations and misconfigurations set nothing.
    for levels in (4, 5):
        host = Host(M=46, levels=levels, ad=True)
        gpa = rng.randrange(0, 1 << 40)
        final = host.map(gpa, perms=R)
        emit(f"ept{levels}-ad", "gpa-write-violation-no-ad",
             "EPT A/D on, write to a read-only EPT page: violation (WR|PERM_RD); a failed "
             "translation sets no A/D flag",
             make_case(host, memory=dict(host.words), access=gpa_access(gpa, "write")),
             ("violation", gpa, Q_WR | Q_PR, {}))
    # Nested: guest tables count as writes for EPT A/D.
    for levels in (4, 5):
        for kind in ("read", "write", "fetch"):
            for ad in (True, False):
                host, guest, final = access_scenario(levels, KB4, True, ad=ad)
                mem = guest.store(dict(host.words))
                emit(f"ept{levels}-ad", f"nested-{kind}-ad{'on' if ad else 'off'}",
                     f"guest {guest.mode} paging over {levels}-level EPT, user {kind}, EPT A/D "
                     + ("on: EPT A and D in the mappings of the guest tables (paging-structure "
                        "accesses are writes), A (and D on a write) for the final page; guest "
                        "A/D too" if ad else "off: only guest A/D flags change"),
                     make_case(host, regs_mode=guest.mode, guest=guest, memory=mem,
                               access=linear_access(guest, kind, 3)),
                     nested_ok(host, guest, final, kind, mem))
    # Nested: guest #PF after EPT A/D of the tables read.
    for levels in (4, 5):
        host, guest, final = access_scenario(levels, KB4, True, ad=True)
        guest.set("pte", off=P)
        mem = guest.store(dict(host.words))
        walk = guest.walk_entries()
        emit(f"ept{levels}-ad", "nested-guest-pte-not-present-ept-ad-written",
             "EPT A/D on, guest PTE not present: #PF (U), and the EPT A/D flags of the "
             "mappings of every guest table read (PTE page included) are already written",
             make_case(host, regs_mode=guest.mode, guest=guest, memory=mem,
                       access=linear_access(guest, "read", 3)),
             ("pf", EU, writes(mem, table_touches(host, guest, upto=len(walk)))))
        host, guest, final = access_scenario(levels, KB4, True, ad=True)
        guest.set("pde", off=P)
        mem = guest.store(dict(host.words))
        emit(f"ept{levels}-ad", "nested-guest-pde-not-present-ept-ad-written",
             "EPT A/D on, guest PDE not present: #PF (W|U); EPT A/D written for the tables "
             "down to the PD page, not for the PT page (never read)",
             make_case(host, regs_mode=guest.mode, guest=guest, memory=mem,
                       access=linear_access(guest, "write", 3)),
             ("pf", EW | EU, writes(mem, table_touches(host, guest, upto=len(walk) - 1))))
    # Misconfiguration with A/D on: the result has no writes.
    host, guest, final = access_scenario(4, KB4, True, ad=True)
    host.edit(final, 1, on=1 << 47)
    mem = guest.store(dict(host.words))
    emit("ept4-ad", "nested-misconfig-final",
         "EPT A/D on, reserved bit 47 in the final page's EPT PTE: misconfiguration (its result "
         "has only guest_physical, no writes)",
         make_case(host, regs_mode="4level", guest=guest, memory=mem,
                   access=linear_access(guest, "read", 3)), ("misconfig", guest.final_gpa))
    # Guest tables sharing one 2 MiB EPT page: A/D set once on the shared entries.
    for kind in ("read", "write"):
        host = Host(M=46, levels=4, ad=True)
        gpa = (1 << 39) + rng.randrange(0, GB1, KB4)
        guest = Guest(host, "4level", final_gpa=gpa, table_size=MB2)
        final = host.map(gpa)
        mem = guest.store(dict(host.words))
        emit("ept4-ad", f"nested-tables-in-one-2mib-ept-page-{kind}",
             f"all guest tables in one 2 MiB EPT page, EPT A/D on, {kind}: that EPT leaf gets "
             "A and D (paging-structure accesses are writes), page size stays the guest's "
             "4 KiB", make_case(host, regs_mode="4level", guest=guest, memory=mem,
                                access=linear_access(guest, kind, 3)),
             nested_ok(host, guest, final, kind, mem))


# ---------------------------------------------------------------------------------------------
# Nested translation: guest paging modes over EPT.


def nested_modes():
    configs = [("32bit", "pte"), ("32bit", "pde"), ("pae", "pte"), ("pae", "pde"),
               ("4level", "pte"), ("4level", "pde"), ("4level", "pdpte"), ("5level", "pte"),
               ("5level", "pdpte")]
    n = 0
    for mode, leaf in configs:
        for levels in (4, 5):
            for kind in ("read", "write", "fetch"):
                ad = n % 2 == 0
                n += 1
                M = 40 if mode in ("32bit", "pae") else (46 if levels == 4 else 52)
                host = Host(M=M, levels=levels, ad=ad)
                gsize = {"pte": KB4, "pde": MB4 if mode == "32bit" else MB2, "pdpte": GB1}[leaf]
                if mode in ("32bit", "pae"):
                    gpa = rng.randrange(1 << 30, 1 << 32, gsize)
                else:
                    gpa = rng.randrange(1 << 32, 1 << M, gsize)
                guest = Guest(host, mode, leaf=leaf, final_gpa=gpa)
                final = host.map(guest.final_gpa, size=KB4)
                mem = guest.store(dict(host.words))
                cpl = 3 if n % 3 else 0
                emit("nested", f"{mode}-{leaf}-ept{levels}-{kind}",
                     f"guest {mode} paging ({SIZE_NAME[guest.page_size]} page) over "
                     f"{levels}-level EPT (A/D {'on' if ad else 'off'}), CPL{cpl} {kind}: every "
                     "guest table entry is read at its EPT-translated address; page size = min("
                     f"guest {SIZE_NAME[guest.page_size]}, EPT 4 KiB)"
                     + ("; the PAE PDPTE load is an EPT read (A, no D)" if mode == "pae" and ad
                        else ""),
                     make_case(host, regs_mode=mode, guest=guest, memory=mem,
                               access=linear_access(guest, kind, cpl)),
                     nested_ok(host, guest, final, kind, mem))
    # PSE-36: a 4 MiB guest page above 4 GiB guest-physical.
    host = Host(M=40, levels=4, ad=True)
    guest = Guest(host, "32bit", leaf="pde", final_gpa=0x3_4540_0000 & ~(MB4 - 1))
    final = host.map(guest.final_gpa, size=MB2)
    mem = guest.store(dict(host.words))
    emit("nested", "32bit-pse36-above-4g",
         "guest 32-bit paging, PSE-36 4 MiB page at guest-physical 0x345400000 (PDE bits 20:13 "
         "hold GPA bits 39:32), over a 2 MiB EPT page: page size 2 MiB",
         make_case(host, regs_mode="32bit", guest=guest, memory=mem,
                   access=linear_access(guest, "write", 3)),
         nested_ok(host, guest, final, "write", mem))
    # Guest tables above 4 GiB guest-physical (4-level), above 2^48 (5-level EPT, M=52).
    for levels, region in ((4, 0x7_1234_0000_0000 >> 8 & ~(MB2 - 1)),
                           (5, 0x5_6789_abc0_0000 & ~(MB2 - 1))):
        host = Host(M=46 if levels == 4 else 52, levels=levels, ad=True)
        guest = Guest(host, "4level", final_gpa=rng.randrange(0, 1 << 30, KB4), region=region)
        final = host.map(guest.final_gpa)
        mem = guest.store(dict(host.words))
        emit("nested", f"tables-high-gpa-ept{levels}",
             f"guest page tables at guest-physical {region:#x}.. "
             + ("(above 4 GiB)" if levels == 4 else "(above 2^48, 5-level EPT, MAXPHYADDR 52)")
             + ", mapped by EPT to low host pages",
             make_case(host, regs_mode="4level", guest=guest, memory=mem,
                       access=linear_access(guest, "read", 3)),
             nested_ok(host, guest, final, "read", mem))


def paging_off():
    for levels in (4, 5):
        for size in (KB4, MB2, GB1):
            for kind in ("read", "write", "fetch"):
                ad = kind != "fetch"
                host = Host(M=46 if levels == 4 else 52, levels=levels, ad=ad)
                lin = rng.randrange(0, 1 << 32)
                final = host.map(lin, size=size)
                w = writes(host.words, [(final, kind == "write")]) if ad else {}
                emit("nested", f"paging-off-ept{levels}-{SIZE_NAME[size].replace(' ', '').lower()}"
                     f"-{kind}",
                     f"guest paging off (CR0.PG=0) over {levels}-level EPT: linear = "
                     f"guest-physical, page size = the EPT page ({SIZE_NAME[size]})",
                     make_case(host, regs_mode="none", memory=dict(host.words),
                               access={"linear": hex(lin), "kind": kind, "cpl": 0}),
                     ("ok", host.hpa(final, lin), size, w))
    for p, kind in ((R, "write"), (R | W, "fetch"), (0, "read"), (X, "read")):
        host = Host(M=46, levels=4)
        lin = rng.randrange(0, 1 << 32)
        host.map(lin, perms=p)
        emit("nested", f"paging-off-{perm_name(p)}-{kind}",
             f"guest paging off, EPT page {perm_name(p)}, {kind}: violation with linear valid, "
             "final, and advanced info user-mode + writable (bits 9, 10), not execute-disable",
             make_case(host, regs_mode="none", memory=dict(host.words),
                       access={"linear": hex(lin), "kind": kind, "cpl": 0}),
             ("violation", lin, op_bit(kind) | perm_bits(p, False) | Q_LV | Q_FIN | Q_AU | Q_AW,
              {}))
    host = Host(M=46, levels=4)
    lin = 0x1_0000_1000
    host.map(lin)
    emit("nested", "paging-off-linear-above-4g",
         "guest paging off: a linear address above 32 bits cannot exist, invalid",
         make_case(host, regs_mode="none", memory=dict(host.words),
                   access={"linear": hex(lin), "kind": "read", "cpl": 0}), "invalid")


def precedence():
    def scen(levels=4, ad=False, user=True, M=None):
        host = Host(M=M or (46 if levels == 4 else 52), levels=levels, ad=ad)
        gpa = (1 << 39) + rng.randrange(0, GB1, KB4) if levels == 4 else \
            0x2_0000_0000_0000 + rng.randrange(0, GB1, KB4)
        guest = Guest(host, "4level" if levels == 4 else "5level", final_gpa=gpa,
                      user_page=user)
        return host, guest, gpa

    def case_of(host, guest, mem, kind, cpl, **kw):
        return make_case(host, regs_mode=guest.mode, guest=guest, memory=mem,
                         access=linear_access(guest, kind, cpl), **kw)

    for levels in (4, 5):
        g = f"ept{levels}"
        # Guest leaf not present and the final page unmapped in EPT: #PF.
        host, guest, gpa = scen(levels)
        guest.set("pte", off=P)
        mem = guest.store(dict(host.words))
        emit("nested", f"{g}-guest-pte-np-beats-final-unmapped",
             "guest PTE not present and its page unmapped in EPT: the guest walk faults first, "
             "#PF P=0 (W|U)", case_of(host, guest, mem, "write", 3), ("pf", EW | EU, {}))
        # Guest U/S violation and EPT final not present.
        host, guest, gpa = scen(levels, user=False)
        mem = guest.store(dict(host.words))
        emit("nested", f"{g}-guest-us-beats-final-unmapped",
             "user read of a supervisor page whose GPA EPT does not map: guest rights are "
             "checked before the final EPT translation, #PF P|U",
             case_of(host, guest, mem, "read", 3), ("pf", EP | EU, {}))
        # Guest R/W violation and EPT read-only final.
        host, guest, gpa = scen(levels)
        guest.set("pte", off=RW)
        final = host.map(gpa, perms=R)
        mem = guest.store(dict(host.words))
        emit("nested", f"{g}-guest-rw-beats-ept-readonly",
             "user write to a guest read-only page that EPT also maps read-only: #PF P|W|U, "
             "no EPT violation", case_of(host, guest, mem, "write", 3), ("pf", EP | EW | EU, {}))
        # Guest NX vs EPT no-execute.
        host, guest, gpa = scen(levels)
        guest.set("pte", on=XD)
        final = host.map(gpa, perms=R | W)
        mem = guest.store(dict(host.words))
        emit("nested", f"{g}-guest-nx-beats-ept-nx",
             "user fetch from a guest XD page that EPT maps without X: #PF P|U|I/D first",
             case_of(host, guest, mem, "fetch", 3), ("pf", EP | EU | EI, {}))
        # SMEP and SMAP before the final EPT translation.
        host, guest, gpa = scen(levels)
        final = host.map(gpa, perms=0 if levels == 4 else R)
        mem = guest.store(dict(host.words))
        emit("nested", f"{g}-smep-beats-final",
             "CR4.SMEP, supervisor fetch from a user page, final page "
             + ("unmapped" if levels == 4 else "not executable") + " in EPT: #PF P|I/D",
             case_of(host, guest, mem, "fetch", 0,
                     cr4=GUEST_REGS[guest.mode]["cr4"] | CR4_SMEP), ("pf", EP | EI, {}))
        host, guest, gpa = scen(levels)
        mem = guest.store(dict(host.words))
        emit("nested", f"{g}-smap-beats-final",
             "CR4.SMAP, supervisor write to a user page (AC=0), final page unmapped in EPT: "
             "#PF P|W", case_of(host, guest, mem, "write", 0,
                                cr4=GUEST_REGS[guest.mode]["cr4"] | CR4_SMAP),
             ("pf", EP | EW, {}))
        # Guest reserved bit in the PTE, but the PT page is unmapped in EPT: the EPT
        # violation comes first (the entry must be read to see the bit).
        host, guest, gpa = scen(levels, M=46 if levels == 4 else 50)
        guest.set("pte", on=1 << 50)
        pte = guest.entry("pte")
        host.edit(pte.path, 1, perms=0)
        final = host.map(gpa)
        mem = guest.store(dict(host.words))
        emit("nested", f"{g}-pt-page-unmapped-beats-guest-rsvd",
             "guest PTE has reserved bit 50 (at or above MAXPHYADDR), but its page is not "
             "present in EPT: the EPT "
             "violation on reading it (GPA of the PTE, RD, linear valid, bit 8 = 0) comes first",
             case_of(host, guest, mem, "read", 3), ("violation", pte.gpa, Q_RD | Q_LV, {}))
        # Guest PDE not present, PT page unmapped in EPT: never read, #PF.
        host, guest, gpa = scen(levels, ad=True)
        guest.set("pde", off=P)
        host.edit(guest.entry("pte").path, 1, perms=0)
        mem = guest.store(dict(host.words))
        walk = guest.walk_entries()
        emit("nested", f"{g}-guest-pde-np-pt-page-unmapped",
             "guest PDE not present and the PT page unmapped in EPT: the PT page is never "
             "read, so #PF (U); EPT A/D on: the mappings of the tables read are written",
             case_of(host, guest, mem, "read", 3),
             ("pf", EU, writes(mem, table_touches(host, guest, upto=len(walk) - 1))))
        # Upper guest table page EPT violation while a lower guest entry is not present.
        host, guest, gpa = scen(levels)
        guest.set("pte", off=P)
        pde = guest.entry("pde")
        host.edit(pde.path, 1, perms=X)
        mem = guest.store(dict(host.words))
        emit("nested", f"{g}-pd-page-exec-only-beats-guest-pte-np",
             "the guest PD page is execute-only in EPT and the guest PTE is not present: "
             "reading the PDE violates first (RD|PERM_EX, linear valid, bit 8 = 0)",
             case_of(host, guest, mem, "read", 3),
             ("violation", pde.gpa, Q_RD | Q_PX | Q_LV, {}))
        # Final EPT violation before the guest A/D update violation.
        host, guest, gpa = scen(levels)
        pte = guest.entry("pte")
        host.edit(pte.path, 1, perms=R)
        final = host.map(gpa, perms=0)
        guest.set_all(on=A).set("pte", off=A)
        mem = guest.store(dict(host.words))
        emit("nested", f"{g}-final-violation-before-guest-ad-update",
             "EPT A/D off, guest PTE A=0 on an EPT read-only page, final page not present: the "
             "final translation fails first (RD, linear valid, final, user + writable), the "
             "A update is never tried", case_of(host, guest, mem, "read", 3),
             ("violation", gpa + (guest.linear & 0xFFF), Q_RD | Q_LV | Q_FIN | Q_AU | Q_AW, {}))
        # Guest #PF with A/D on after the tables' EPT A/D.
        host, guest, gpa = scen(levels, ad=True, user=False)
        mem = guest.store(dict(host.words))
        emit("nested", f"{g}-guest-us-fault-after-ept-ad",
             "EPT A/D on, user read of a supervisor page: #PF P|U after every guest table was "
             "read, so the EPT A/D flags of all of their mappings are written",
             case_of(host, guest, mem, "read", 3),
             ("pf", EP | EU, writes(mem, table_touches(host, guest))))
    # PAE: PDPTE not present (guest) after an EPT-translated PDPTE load.
    host = Host(M=40, levels=4, ad=True)
    guest = Guest(host, "pae", final_gpa=rng.randrange(1 << 30, 1 << 32, KB4))
    guest.entries[0].value = 0
    mem = guest.store(dict(host.words))
    emit("nested", "pae-pdpte-not-present",
         "guest PAE, the PDPTE used is not present: #PF P=0; the PDPT page's EPT mapping got A "
         "(a read: no D) from the PDPTE load",
         make_case(host, regs_mode="pae", guest=guest, memory=mem,
                   access=linear_access(guest, "read", 0)),
         ("pf", 0, writes(mem, [(guest.entries[0].path, False)])))


def qualification_bits():
    """Exit-qualification bits 7 and 8 (paging-structure access vs final translation; KVM's
    2026 nested_npf_test cases) and the advanced information bits 9-11."""
    def scen(user=True, ad=False, mode="4level", M=46, levels=4):
        host = Host(M=M, levels=levels, ad=ad)
        gpa = rng.randrange(1 << 30, 1 << 32, KB4)
        guest = Guest(host, mode, final_gpa=gpa, user_page=user)
        return host, guest

    for kind in ("read", "write", "fetch"):
        host, guest = scen()
        host.map(guest.final_gpa, perms=0)
        mem = guest.store(dict(host.words))
        emit("qual", f"unmapped-final-page-{kind}",
             f"final page not present in EPT, user {kind}: bits 7 and 8 set (final "
             "translation), advanced info: user-mode, writable",
             make_case(host, regs_mode="4level", guest=guest, memory=mem,
                       access=linear_access(guest, kind, 3)),
             ("violation", guest.final_gpa, op_bit(kind) | Q_LV | Q_FIN | Q_AU | Q_AW, {}))
    for name in ("pml4e", "pdpte", "pde", "pte"):
        for ad in (False, True):
            host, guest = scen(ad=ad)
            e = guest.entry(name)
            host.edit(e.path, 1, perms=0)
            host.map(guest.final_gpa)
            mem = guest.store(dict(host.words))
            k = guest.walk_entries().index(e)
            emit("qual", f"unmapped-{name}-page-ad{'on' if ad else 'off'}",
                 f"guest {name.upper()} page not present in EPT (A/D {'on' if ad else 'off'}): "
                 "guest_physical = the entry's GPA, bit 7 set, bit 8 clear (paging-structure "
                 "access), no advanced info" + (", RD|WR (a write for EPT A/D)" if ad else
                                                 ", RD"),
                 make_case(host, regs_mode="4level", guest=guest, memory=mem,
                           access=linear_access(guest, "fetch", 3)),
                 ("violation", e.gpa, Q_RD | (Q_WR if ad else 0) | Q_LV,
                  writes(mem, table_touches(host, guest, upto=k))))
    host, guest = scen()
    host.map(guest.final_gpa, perms=R | X)
    mem = guest.store(dict(host.words))
    emit("qual", "write-protected-final-page",
         "final page r-x in EPT, user write: WR|PERM_RD|PERM_EX, linear valid, final, user, "
         "writable", make_case(host, regs_mode="4level", guest=guest, memory=mem,
                               access=linear_access(guest, "write", 3)),
         ("violation", guest.final_gpa, Q_WR | Q_PR | Q_PX | Q_LV | Q_FIN | Q_AU | Q_AW, {}))
    for ad in (True, False):
        host, guest = scen(ad=ad)
        pte = guest.entry("pte")
        host.edit(pte.path, 1, perms=R | X)
        final = host.map(guest.final_gpa)
        mem = guest.store(dict(host.words))
        if ad:
            want = ("violation", pte.gpa, Q_RD | Q_WR | Q_PR | Q_PX | Q_LV,
                    writes(mem, table_touches(host, guest, upto=3)))
        else:
            done = [(e, A) for e in guest.walk_entries()[:3]]
            want = ("violation", pte.gpa, Q_RD | Q_WR | Q_PR | Q_PX | Q_LV,
                    writes(mem, [], done))
        emit("qual", f"write-protected-pt-page-ad{'on' if ad else 'off'}",
             "guest PT page r-x in EPT, user read, " + (
                 "EPT A/D on: reading the PTE is a write for EPT, RD|WR|PERM_RD|PERM_EX, bit 8 "
                 "clear" if ad else "EPT A/D off, guest A=0: reading is fine, setting the PTE's "
                 "A is a read-modify-write: RD|WR|PERM_RD|PERM_EX, bit 8 clear; the A flags of "
                 "the PML4E, PDPTE and PDE were set before it"),
             make_case(host, regs_mode="4level", guest=guest, memory=mem,
                       access=linear_access(guest, "read", 3)), want)
    # Advanced information bits 9-11 for the final translation.
    combos = [("supervisor-page", "supervisor writable page", dict(user=False), "read", 0, {},
               Q_AW),
              ("user-page", "user writable page", dict(user=True), "read", 3, {}, Q_AU | Q_AW),
              ("readonly-page-wp0-write", "supervisor read-only page with CR0.WP=0",
               dict(user=False), "write", 0, {"rw": False}, 0),
              ("xd-page-read", "user writable XD page", dict(user=True), "read", 3,
               {"xd": True}, Q_AU | Q_AW | Q_AX),
              ("readonly-upper-pdpte", "user page under a read-only PDPTE", dict(user=True),
               "read", 3, {"pdpte_ro": True}, Q_AU),
              ("supervisor-upper-pml4e", "page with U/S=1 in the PTE but 0 in the PML4E",
               dict(user=True), "read", 0, {"pml4e_s": True}, Q_AW)]
    for tag, desc, sk, kind, cpl, mods, adv_bits in combos:
        host, guest = scen(**sk)
        if mods.get("rw") is False:
            guest.set("pte", off=RW)
        if mods.get("xd"):
            guest.set("pte", on=XD)
        if mods.get("pdpte_ro"):
            guest.set("pdpte", off=RW)
        if mods.get("pml4e_s"):
            guest.set("pml4e", off=US)
        host.map(guest.final_gpa, perms=0)
        mem = guest.store(dict(host.words))
        emit("qual", f"advanced-{tag}",
             f"final page unmapped in EPT, CPL{cpl} {kind} of a {desc}: bits 9/10/11 = "
             f"{adv_bits >> 9 & 1}/{adv_bits >> 10 & 1}/{adv_bits >> 11 & 1}, the user-mode / "
             "writable / execute-disable attributes of the linear address (U/S and R/W ANDed, "
             "XD ORed over the guest entries)",
             make_case(host, regs_mode="4level", guest=guest, memory=mem,
                       access=linear_access(guest, kind, cpl),
                       cr0=CR0_NOWP if mods.get("rw") is False else None),
             ("violation", guest.final_gpa, op_bit(kind) | Q_LV | Q_FIN | adv_bits, {}))
    # 32-bit paging has no XD; PAE PDPTEs carry no U/S or R/W.
    host = Host(M=40, levels=4)
    guest = Guest(host, "32bit", final_gpa=rng.randrange(1 << 30, 1 << 32, KB4))
    host.map(guest.final_gpa, perms=R)
    mem = guest.store(dict(host.words))
    emit("qual", "advanced-32bit-write",
         "guest 32-bit paging, user write to a user writable page that EPT maps read-only: "
         "WR|PERM_RD, linear valid, final, user, writable (no XD in 32-bit paging)",
         make_case(host, regs_mode="32bit", guest=guest, memory=mem,
                   access=linear_access(guest, "write", 3)),
         ("violation", guest.final_gpa, Q_WR | Q_PR | Q_LV | Q_FIN | Q_AU | Q_AW, {}))
    host = Host(M=40, levels=4)
    guest = Guest(host, "pae", final_gpa=rng.randrange(1 << 30, 1 << 32, KB4))
    guest.set("pte", on=XD)
    host.map(guest.final_gpa, perms=X)
    mem = guest.store(dict(host.words))
    emit("qual", "advanced-pae-xd-read",
         "guest PAE, user read of an XD page that EPT maps execute-only: RD|PERM_EX, linear "
         "valid, final, user, writable, execute-disable (the PDPTE has no U/S or R/W)",
         make_case(host, regs_mode="pae", guest=guest, memory=mem,
                   access=linear_access(guest, "read", 3)),
         ("violation", guest.final_gpa, Q_RD | Q_PX | Q_LV | Q_FIN | Q_AU | Q_AW | Q_AX, {}))
    # guest_physical: bit 7 clear.
    for kind in ("read", "write", "fetch"):
        host = Host(M=46, levels=4)
        gpa = rng.randrange(0, 1 << 46)
        host.map(gpa, perms=0)
        emit("qual", f"guest-physical-{kind}-not-present",
             f"guest_physical {kind} of an unmapped page: only the access bit; bits 7-11 are 0 "
             "(no linear address)",
             make_case(host, memory=dict(host.words), access=gpa_access(gpa, kind)),
             ("violation", gpa, op_bit(kind), {}))
    # PAE PDPTE load: bit 7 clear.
    for perms in (0, W | X):
        host = Host(M=40, levels=4)
        guest = Guest(host, "pae", final_gpa=rng.randrange(1 << 30, 1 << 32, KB4))
        host.edit(guest.entries[0].path, 1, perms=perms)
        mem = guest.store(dict(host.words))
        pdpt = guest.cr3 & ~31
        if perms == 0:
            want = ("violation", pdpt, Q_RD, {})
            why = ("violation RD only: the load belongs to MOV CR3, so linear-address-valid "
                   "(bit 7) is 0; guest_physical = the PDPT base (CR3[31:5])")
        else:
            want = ("misconfig", pdpt)
            why = "misconfiguration (write without read) at the PDPT base"
        emit("qual", f"pae-pdpte-load-{'not-present' if perms == 0 else 'misconfig'}",
             f"guest PAE, the PDPT page is {perm_name(perms)} in EPT: loading the PDPTEs "
             f"fails: {why}",
             make_case(host, regs_mode="pae", guest=guest, memory=mem,
                       access=linear_access(guest, "read", 0)), want)
    # CR3 bits 4:0 are not part of the PDPT address.
    host = Host(M=40, levels=4)
    guest = Guest(host, "pae", final_gpa=rng.randrange(1 << 30, 1 << 32, KB4))
    host.edit(guest.entries[0].path, 1, perms=0)
    mem = guest.store(dict(host.words))
    emit("qual", "pae-pdpte-load-cr3-pwt-pcd",
         "guest PAE with CR3 bits 3 and 4 (PWT, PCD) set, PDPT page not present in EPT: the "
         "violation's guest_physical is CR3[31:5], without those bits; qualification RD only",
         make_case(host, regs_mode="pae", guest=guest, memory=mem, cr3=guest.cr3 | 0x18,
                   access=linear_access(guest, "read", 0)),
         ("violation", guest.cr3 & ~31, Q_RD, {}))
    # PDPTE load needs no write permission even with EPT A/D on.
    host = Host(M=40, levels=4, ad=True)
    guest = Guest(host, "pae", final_gpa=rng.randrange(1 << 30, 1 << 32, KB4))
    host.edit(guest.entries[0].path, 1, perms=R)
    final = host.map(guest.final_gpa)
    mem = guest.store(dict(host.words))
    emit("qual", "pae-pdpte-load-readonly-ad-on",
         "guest PAE, PDPT page read-only in EPT with EPT A/D on: PDPTE loads are reads, so no "
         "violation; their mapping gets A but not D",
         make_case(host, regs_mode="pae", guest=guest, memory=mem,
                   access=linear_access(guest, "write", 3)),
         nested_ok(host, guest, final, "write", mem))
    # PAE PDPTE with a reserved bit, loaded through EPT: invalid.
    host = Host(M=40, levels=4, ad=True)
    guest = Guest(host, "pae", final_gpa=rng.randrange(1 << 30, 1 << 32, KB4))
    guest.entries[0].value |= 1 << 6
    final = host.map(guest.final_gpa)
    mem = guest.store(dict(host.words))
    emit("qual", "pae-pdpte-reserved-invalid",
         "guest PAE, the PDPTE read through EPT has reserved bit 6: loading CR3 would #GP, "
         "invalid", make_case(host, regs_mode="pae", guest=guest, memory=mem,
                              access=linear_access(guest, "read", 0)), "invalid")


def page_sizes():
    combos = [(g, e) for g in ("pte", "pde", "pdpte") for e in (KB4, MB2, GB1)]
    for leaf, esize in combos:
        for levels in (4, 5):
            M = 46 if levels == 4 else 52
            host = Host(M=M, levels=levels, ad=levels == 5)
            gsize = {"pte": KB4, "pde": MB2, "pdpte": GB1}[leaf]
            gpa = rng.randrange(1 << 32, 1 << (M - 1), max(gsize, esize))
            guest = Guest(host, "4level", leaf=leaf, final_gpa=gpa & ~(gsize - 1))
            final = host.map(guest.final_gpa, size=esize)
            mem = guest.store(dict(host.words))
            emit("pagesize", f"guest-{SIZE_NAME[gsize].replace(' ', '').lower()}-ept{levels}-"
                 f"{SIZE_NAME[esize].replace(' ', '').lower()}",
                 f"guest {SIZE_NAME[gsize]} page over a {SIZE_NAME[esize]} {levels}-level EPT "
                 f"page: page_size = the smaller, {SIZE_NAME[min(gsize, esize)]}; physical = "
                 "EPT page base + GPA offset",
                 make_case(host, regs_mode="4level", guest=guest, memory=mem,
                           access=linear_access(guest, "read", 3)),
                 nested_ok(host, guest, final, "read", mem))
    for mode, leaf, esize in (("32bit", "pde", KB4), ("32bit", "pde", MB2),
                              ("32bit", "pde", GB1), ("32bit", "pte", GB1),
                              ("pae", "pde", KB4), ("pae", "pde", GB1), ("pae", "pte", MB2),
                              ("5level", "pdpte", MB2)):
        host = Host(M=40 if mode != "5level" else 52, levels=4 if mode != "5level" else 5)
        gsize = {"pte": KB4, "pde": MB4 if mode == "32bit" else MB2, "pdpte": GB1}[leaf]
        lim = 1 << 32 if mode in ("32bit", "pae") else 1 << 51
        gpa = rng.randrange(1 << 30, lim, max(gsize, esize))
        guest = Guest(host, mode, leaf=leaf, final_gpa=gpa & ~(gsize - 1))
        final = host.map(guest.final_gpa, size=esize)
        mem = guest.store(dict(host.words))
        emit("pagesize", f"{mode}-{SIZE_NAME[gsize].replace(' ', '').lower()}-ept-"
             f"{SIZE_NAME[esize].replace(' ', '').lower()}",
             f"guest {mode} {SIZE_NAME[gsize]} page over a {SIZE_NAME[esize]} EPT page: "
             f"page_size {SIZE_NAME[min(gsize, esize)]}",
             make_case(host, regs_mode=mode, guest=guest, memory=mem,
                       access=linear_access(guest, "write", 3)),
             nested_ok(host, guest, final, "write", mem))


def table_misconfig():
    """EPT misconfigurations met while translating a guest paging-structure entry."""
    bad = [("reserved-bit-48", dict(on=1 << 48)), ("write-only", dict(perms=W)),
           ("memtype-2", dict(mt=2)), ("wx", dict(perms=W | X))]
    n = 0
    for mode, names in (("4level", ("pml4e", "pdpte", "pde", "pte")),
                        ("5level", ("pml5e", "pml4e", "pte")), ("32bit", ("pde", "pte")),
                        ("pae", ("pde", "pte"))):
        for name in names:
            tag, how = bad[n % 4]
            n += 1
            levels = 5 if mode == "5level" else 4
            M = 52 if levels == 5 else 46
            if tag == "reserved-bit-48" and M == 52:
                tag, how = "memtype-7", dict(mt=7)
            host = Host(M=M if mode not in ("32bit", "pae") else 40, levels=levels)
            guest = Guest(host, mode, final_gpa=rng.randrange(1 << 30, 1 << 32, KB4))
            host.map(guest.final_gpa)
            e = guest.entry(name)
            if "mt" in how:
                host.edit(e.path, 1, value=(host.words[e.path.leaf] & ~(7 << 3))
                          | how["mt"] << 3)
                what = f"memory type {how['mt']} in its EPT PTE"
            elif "on" in how:
                host.edit(e.path, 1, on=how["on"])
                what = f"bit 48 (above MAXPHYADDR {host.M}) in its EPT PTE"
            else:
                host.edit(e.path, 1, perms=how["perms"])
                what = f"XWR={how['perms']:03b} in its EPT PTE"
            mem = guest.store(dict(host.words))
            gpa = e.gpa if not (mode == "pae" and name == "pdpte") else guest.cr3 & ~31
            emit("nested", f"table-misconfig-{mode}-{name}-{tag}",
                 f"guest {mode}: the page holding the guest {name.upper()} has {what}: EPT "
                 "misconfiguration at the entry's guest-physical address",
                 make_case(host, regs_mode=mode, guest=guest, memory=mem,
                           access=linear_access(guest, "read", 3)), ("misconfig", gpa))


def gpa_width():
    """With 4-level EPT, bits 51:48 of a guest-physical address must be 0 (else violation,
    permission bits 0); 5-level EPT translates them. Wider than MAXPHYADDR: invalid."""
    for levels in (4, 5):
        for kind in ("read", "write"):
            host = Host(M=52, levels=levels, ad=True)
            gpa = 0x8_0000_1234_5000 | rng.randrange(0, 0x1000, 8)
            # With 4-level EPT the low 48 bits are mapped, so ignoring bits 51:48 would alias.
            final = host.map(gpa if levels == 5 else gpa & rbits(47, 0))
            emit(f"ept{levels}-width", f"gpa-bit51-{kind}",
                 f"MAXPHYADDR 52, guest_physical {gpa:#x} (bit 51) with {levels}-level EPT: "
                 + ("the PML5E index is 8, translates" if levels == 5 else
                    "bits 51:48 must be 0 with 4-level EPT: violation, no permission bits, "
                    "nothing written, although GPA bits 47:0 alone are mapped"),
                 make_case(host, memory=dict(host.words), access=gpa_access(gpa, kind)),
                 ("ok", host.hpa(final, gpa), KB4,
                  writes(host.words, [(final, kind == "write")])) if levels == 5 else
                 ("violation", gpa, op_bit(kind), {}))
        # Guest page above 2^48 (final) and a guest table above 2^48.
        host = Host(M=52, levels=levels, ad=False)
        gpa = 0x1_2345_6789_A000
        guest = Guest(host, "4level", final_gpa=gpa)
        final = host.map(gpa if levels == 5 else gpa & rbits(47, 0))
        mem = guest.store(dict(host.words))
        emit(f"ept{levels}-width", "nested-final-above-2-48",
             f"guest PTE maps guest-physical {gpa:#x} (above 2^48, MAXPHYADDR 52) over "
             f"{levels}-level EPT: " + ("translates" if levels == 5 else
                                       "violation, final, no permission bits (GPA bits 47:0 "
                                       "alone are mapped: no aliasing)"),
             make_case(host, regs_mode="4level", guest=guest, memory=mem,
                       access=linear_access(guest, "read", 3)),
             nested_ok(host, guest, final, "read", mem) if levels == 5 else
             ("violation", guest.final_gpa, Q_RD | Q_LV | Q_FIN | Q_AU | Q_AW, {}))
    host = Host(M=52, levels=4)
    region = 0x3_0000_0000_0000
    # The guest PD page above 2^48 cannot be mapped by 4-level EPT: build the tables by hand.
    guest = Guest(host, "4level", final_gpa=0x4000_0000)
    pde = guest.entry("pde")
    high_pd = region | (pde.gpa & 0xFFF)
    guest.entry("pdpte").value = region | P | RW | US
    host.map(0x4000_0000)
    # The low-48-bit alias of the high page directory holds a valid PDE: it must not be read.
    alias = host.map(region & rbits(47, 0), hpa=host.table_page())
    put(host.words, host.hpa(alias, high_pd), guest.entry("pde").value, 8)
    mem = guest.store(dict(host.words))
    emit("ept4-width", "nested-table-above-2-48",
         "guest PDPTE points at a page directory at guest-physical 0x3000000000000 (MAXPHYADDR "
         "52), 4-level EPT: reading the PDE violates (RD, linear valid, bit 8 = 0, no "
         "permission bits)",
         make_case(host, regs_mode="4level", guest=guest, memory=mem,
                   access=linear_access(guest, "read", 3)),
         ("violation", high_pd, Q_RD | Q_LV, {}))
    host = Host(M=46, levels=4)
    emit("ept4-width", "gpa-above-maxphyaddr-invalid",
         "guest_physical 0x400000000000 has bit 46 set with MAXPHYADDR 46: no such guest-physical "
         "address, invalid", make_case(host, memory=dict(host.words),
                                       access=gpa_access(1 << 46, "read")), "invalid")


def malformed():
    host = Host(M=46, levels=4)
    gpa = 0x1234_5000
    host.map(gpa)
    good = make_case(host, memory=dict(host.words), access=gpa_access(gpa, "read"))
    emit("ept-malformed", "baseline-valid", "the base of the malformed cases below is valid",
         good, ("ok", host.hpa(host.paths[0], gpa), KB4, {}))

    def variant(cid, reason, edit):
        c = json.loads(json.dumps(good))
        edit(c)
        emit("ept-malformed", cid, reason, c, "invalid")

    variant("ept-not-object", "ept must be an object", lambda c: c.__setitem__("ept", "0x105e"))
    variant("eptp-missing", "ept.eptp is required", lambda c: c["ept"].pop("eptp"))
    variant("eptp-bad-hex", "ept.eptp '0x10g' is not hex",
            lambda c: c["ept"].__setitem__("eptp", "0x10g"))
    variant("eptp-too-wide", "ept.eptp does not fit 64 bits",
            lambda c: c["ept"].__setitem__("eptp", "0x10000000000000000"))
    variant("mbec-not-boolean", "ept.mode_based_execute must be true or false",
            lambda c: c["ept"].__setitem__("mode_based_execute", "yes"))
    variant("gpa-and-linear", "access has both linear and guest_physical",
            lambda c: c["access"].__setitem__("linear", "0x1000"))
    variant("gpa-without-kind", "a guest_physical access needs kind",
            lambda c: c["access"].pop("kind"))
    variant("gpa-kind-unknown", "access.kind 'exec' is not read, write or fetch",
            lambda c: c["access"].__setitem__("kind", "exec"))
    variant("gpa-user-not-boolean", "access.user must be true or false",
            lambda c: c["access"].__setitem__("user", 1))
    variant("gpa-bad-hex", "access.guest_physical '0xq' is not hex",
            lambda c: c["access"].__setitem__("guest_physical", "0xq"))
    variant("gpa-la57-without-feature", "guest_physical access, but CR4.LA57 is set and the CPU "
            "has no la57: the register state is still checked",
            lambda c: (c["regs"].__setitem__("cr4", "0x1020"),
                       c.__setitem__("features", ["nx"])))
    c = json.loads(json.dumps(good))
    c["access"]["user"] = True
    emit("ept-malformed", "gpa-user-without-mbec",
         "access.user without mode-based execute changes nothing for a read", c,
         ("ok", host.hpa(host.paths[0], gpa), KB4, {}))


def main():
    access_table()
    mbec()
    reserved_bits()
    ignored_bits()
    memory_types()
    paddr()
    eptp_validity()
    ept_ad()
    nested_modes()
    paging_off()
    precedence()
    qualification_bits()
    page_sizes()
    table_misconfig()
    gpa_width()
    malformed()
    with open(OUT, "w") as f:
        for rec in CASES:
            f.write(json.dumps(rec) + "\n")
    for g in sorted(GROUPS):
        print(f"{g:16} {GROUPS[g]}")
    results = Counter(r["expect"]["result"] for r in CASES)
    print("results: " + ", ".join(f"{k} {v}" for k, v in sorted(results.items())))
    print(f"{'total':16} {len(CASES)}  -> {os.path.relpath(OUT)}")


if __name__ == "__main__":
    main()
