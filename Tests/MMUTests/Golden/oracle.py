#!/usr/bin/env python3
"""Independent oracle for `specc walk` cases: x86 guest paging, EPT and nested translation.

Written from the Intel SDM (Vol. 3A chapter 4, "Paging"; Vol. 3C section 29.3, "EPT") and the
walk-case contract (shared/contracts/walk-case.md), not from the Swift sources. It is meant to
be small and obviously correct rather than fast: every rule is one readable step.

Covers: paging off, 32-bit paging (PSE 4 MiB pages, PSE-36), PAE paging (PDPTEs loaded at
CR3), 4-level and 5-level paging; with `ept`, every guest-physical address (guest
paging-structure entries, PAE PDPTEs, the final address, guest A/D updates) goes through a 4- or
5-level EPT walk, and `guest_physical` accesses are EPT-only. Cases with `cpu` are out of scope
(reported as "unsupported" and skipped by --check-examples).

Usage:
  oracle.py FILE                  print one result per case (FILE: .json, .jsonl or '-')
  oracle.py --check-examples CASES RESULTS
                                  compare with the contract's expected results
  oracle.py --check-golden GOLDEN check that every golden line's `expect` is what the oracle says
"""

import json
import re
import sys

# ---------------------------------------------------------------------------------------------
# Bit positions (SDM names).

CR0_PE, CR0_WP, CR0_PG = 1 << 0, 1 << 16, 1 << 31
CR4_PSE, CR4_PAE, CR4_PGE = 1 << 4, 1 << 5, 1 << 7
CR4_LA57, CR4_PCIDE = 1 << 12, 1 << 17
CR4_SMEP, CR4_SMAP, CR4_PKE, CR4_PKS = 1 << 20, 1 << 21, 1 << 22, 1 << 24
EFER_LME, EFER_NXE = 1 << 8, 1 << 11
RFLAGS_AC = 1 << 18

# Paging-structure entry bits.
P, RW, US, A, D, PS = 1 << 0, 1 << 1, 1 << 2, 1 << 5, 1 << 6, 1 << 7
XD = 1 << 63

# Page-fault error-code bits.
PF_P, PF_W, PF_U, PF_RSVD, PF_ID, PF_PK = 0x1, 0x2, 0x4, 0x8, 0x10, 0x20

# EPT paging-structure entry bits (SDM Vol. 3C 29.3.2, the EPT entry format tables).
EPT_R, EPT_W, EPT_X = 1 << 0, 1 << 1, 1 << 2   # EPT_X is XS (supervisor execute) under MBEC
EPT_IPAT, EPT_PS = 1 << 6, 1 << 7
EPT_A, EPT_D = 1 << 8, 1 << 9                  # only with EPTP bit 6 (EPT A/D) set
EPT_XU = 1 << 10                               # user execute, only with mode-based execute

# EPTP fields (SDM Vol. 3C, "Extended-Page-Table Pointer (EPTP)").
EPTP_AD = 1 << 6
EPTP_VALID_MEMORY_TYPES = {0: "UC", 6: "WB"}
EPTP_WALK_LEVELS = {3: 4, 4: 5}                # bits 5:3 = page-walk length minus 1

# EPT memory types that are valid in a leaf (0 UC, 1 WC, 4 WT, 5 WP, 6 WB); 2, 3, 7 are not.
EPT_LEAF_MEMORY_TYPES = {0, 1, 4, 5, 6}

# EPT-violation exit-qualification bits (SDM Vol. 3C, "Exit Qualification for EPT Violations").
EQ_READ, EQ_WRITE, EQ_FETCH = 1 << 0, 1 << 1, 1 << 2
EQ_READABLE, EQ_WRITABLE, EQ_EXECUTABLE, EQ_USER_EXECUTABLE = 1 << 3, 1 << 4, 1 << 5, 1 << 6
EQ_LINEAR_VALID, EQ_FINAL = 1 << 7, 1 << 8
EQ_USER_PAGE, EQ_WRITABLE_PAGE, EQ_XD_PAGE = 1 << 9, 1 << 10, 1 << 11

# Control bits that need a CPUID feature (Linux /proc/cpuinfo names).
CR4_FEATURES = [
    (CR4_PSE, "CR4.PSE", "pse"),
    (CR4_PGE, "CR4.PGE", "pge"),
    (CR4_LA57, "CR4.LA57", "la57"),
    (CR4_PCIDE, "CR4.PCIDE", "pcid"),
    (CR4_SMEP, "CR4.SMEP", "smep"),
    (CR4_SMAP, "CR4.SMAP", "smap"),
    (CR4_PKE, "CR4.PKE", "pku"),
    (CR4_PKS, "CR4.PKS", "pks"),
]
EFER_FEATURES = [(EFER_NXE, "EFER.NXE", "nx")]

MASK64 = (1 << 64) - 1


def bits(hi, lo):
    """Mask with bits hi..lo (inclusive) set; empty when hi < lo."""
    if hi < lo:
        return 0
    return ((1 << (hi - lo + 1)) - 1) << lo


def hexs(v):
    return hex(v)  # lowercase, "0x" prefix, no leading zeros


class Invalid(Exception):
    """The case is malformed or describes a state the CPU cannot hold."""


class Unsupported(Exception):
    """The case uses something this oracle does not model (EPT, named CPU models)."""


class PageFault(Exception):
    def __init__(self, error_code):
        super().__init__(hex(error_code))
        self.error_code = error_code


class EptViolation(Exception):
    def __init__(self, guest_physical, qualification):
        super().__init__(f"{guest_physical:#x} qualification {qualification:#x}")
        self.guest_physical = guest_physical
        self.qualification = qualification


class EptMisconfiguration(Exception):
    def __init__(self, guest_physical, why):
        super().__init__(f"{guest_physical:#x}: {why}")
        self.guest_physical = guest_physical


# ---------------------------------------------------------------------------------------------
# Input parsing.

HEX_RE = re.compile(r"^0[xX][0-9a-fA-F]+$")


def number(v, what, limit=1 << 64):
    """A JSON number (decimal) or a "0x..." hex string; non-negative and below `limit`."""
    if isinstance(v, bool):
        raise Invalid(f"{what}: expected a number, got a boolean")
    if isinstance(v, int):
        n = v
    elif isinstance(v, str):
        if not HEX_RE.match(v):
            raise Invalid(f"{what}: {v!r} is not a hex string")
        n = int(v, 16)
    else:
        raise Invalid(f"{what}: expected a number or hex string")
    if n < 0 or n >= limit:
        raise Invalid(f"{what}: {n:#x} out of range")
    return n


class Memory:
    """8-byte little-endian words at 8-aligned physical addresses; everything else reads 0."""

    def __init__(self, words):
        self.initial = dict(words)
        self.words = dict(words)

    def read64(self, addr):
        assert addr % 8 == 0
        return self.words.get(addr, 0)

    def write64(self, addr, value):
        assert addr % 8 == 0
        self.words[addr] = value

    def read32(self, addr):
        assert addr % 4 == 0
        word = self.read64(addr & ~7)
        return (word >> 32) & 0xFFFFFFFF if addr & 4 else word & 0xFFFFFFFF

    def write32(self, addr, value):
        assert addr % 4 == 0
        word = self.read64(addr & ~7)
        if addr & 4:
            word = (word & 0xFFFFFFFF) | (value << 32)
        else:
            word = (word & ~0xFFFFFFFF & MASK64) | value
        self.write64(addr & ~7, word)

    def changes(self):
        """Every word whose value differs from the initial memory, sorted by address."""
        out = {}
        for addr in sorted(self.words):
            if self.words[addr] != self.initial.get(addr, 0):
                out[hexs(addr)] = hexs(self.words[addr])
        return out


class State:
    """The parsed, validated case."""

    def __init__(self, case):
        if not isinstance(case, dict):
            raise Invalid("a case must be a JSON object")
        if "cpu" in case:
            raise Unsupported("named CPU models are not modelled by this oracle")

        if "maxphyaddr" not in case:
            raise Invalid("maxphyaddr is required when no cpu is given")
        self.maxphyaddr = number(case["maxphyaddr"], "maxphyaddr")
        if not 32 <= self.maxphyaddr <= 52:
            raise Invalid(f"maxphyaddr {self.maxphyaddr} is not between 32 and 52")

        features = case.get("features", [])
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            raise Invalid("features must be a list of strings")
        self.features = set(features)

        regs = case.get("regs")
        if not isinstance(regs, dict):
            raise Invalid("regs is required and must be an object")
        for name in ("cr0", "cr3", "cr4", "efer"):
            if name not in regs:
                raise Invalid(f"regs.{name} is required")
        self.cr0 = number(regs["cr0"], "regs.cr0")
        self.cr3 = number(regs["cr3"], "regs.cr3")
        self.cr4 = number(regs["cr4"], "regs.cr4")
        self.efer = number(regs["efer"], "regs.efer")
        self.rflags = number(regs.get("rflags", 0), "regs.rflags")
        self.pkru = number(regs.get("pkru", 0), "regs.pkru", 1 << 32)
        self.pkrs = number(regs.get("ia32_pkrs", 0), "regs.ia32_pkrs", 1 << 32)

        memory = case.get("memory", {})
        if not isinstance(memory, dict):
            raise Invalid("memory must be an object")
        words = {}
        for key, value in memory.items():
            addr = number(key, f"memory address {key!r}")
            if addr % 8:
                raise Invalid(f"memory address {key} is not 8-aligned")
            words[addr] = number(value, f"memory[{key}]")
        self.memory = Memory(words)

        self.ept = None
        if "ept" in case:
            self.ept = Ept(case["ept"], self.maxphyaddr, self.memory)

        access = case.get("access")
        if not isinstance(access, dict):
            raise Invalid("access is required and must be an object")
        self.guest_physical = None
        if "guest_physical" in access:
            if "linear" in access:
                raise Invalid("access has both linear and guest_physical")
            if self.ept is None:
                raise Invalid("access.guest_physical needs ept")
        elif "linear" not in access:
            raise Invalid("access.linear is required")
        self.kind = access.get("kind")
        if self.kind not in ("read", "write", "fetch"):
            raise Invalid(f"access.kind {self.kind!r} is not read, write or fetch")
        if "guest_physical" in access:
            # An access with no linear address: `user` only picks XS or XU under MBEC.
            self.guest_physical = number(access["guest_physical"], "access.guest_physical")
            if self.guest_physical >> self.maxphyaddr:
                raise Invalid(f"access.guest_physical {self.guest_physical:#x} is wider than "
                              f"MAXPHYADDR ({self.maxphyaddr} bits)")
            self.user = access.get("user", False)
            if not isinstance(self.user, bool):
                raise Invalid("access.user must be true or false")
            self.linear, self.cpl, self.implicit = None, 0, False
            self.check_feature_bits()
            return
        self.linear = number(access["linear"], "access.linear")
        if "cpl" not in access:
            raise Invalid("access.cpl is required for a linear access")
        self.cpl = number(access["cpl"], "access.cpl")
        if self.cpl > 3:
            raise Invalid(f"access.cpl {self.cpl} is not 0-3")
        self.implicit = access.get("implicit", False)
        if not isinstance(self.implicit, bool):
            raise Invalid("access.implicit must be true or false")

        self.check_feature_bits()

    def check_feature_bits(self):
        # A control bit whose feature is absent cannot be set (MOV to CR4 / WRMSR would #GP).
        for bit, name, feature in CR4_FEATURES:
            if self.cr4 & bit and feature not in self.features:
                raise Invalid(f"{name} is set but the CPU has no {feature}")
        for bit, name, feature in EFER_FEATURES:
            if self.efer & bit and feature not in self.features:
                raise Invalid(f"{name} is set but the CPU has no {feature}")

    # Convenience predicates.
    def cr0_bit(self, b):
        return bool(self.cr0 & b)

    def cr4_bit(self, b):
        return bool(self.cr4 & b)

    @property
    def mode(self):
        """Paging mode exactly as the contract states it."""
        if not self.cr0 & CR0_PG:
            return "none"
        if not self.cr4 & CR4_PAE:
            return "32bit"
        if not self.efer & EFER_LME:
            return "pae"
        if not self.cr4 & CR4_LA57:
            return "4level"
        return "5level"


# ---------------------------------------------------------------------------------------------
# EPT (SDM Vol. 3C 29.3): the second translation, guest-physical -> host-physical.


class EptAccess:
    """One use of a guest-physical address, as the EPT checks and reports it.

    read/write/fetch: what the access needs from EPT (and exit-qualification bits 0-2).
    user: for an instruction fetch under mode-based execute, whether the linear address is a
          user-mode one (XU is checked) or a supervisor-mode one (XS, bit 2, is checked).
    linear: the access belongs to the translation of a linear address (bit 7).
    final: it is the access to the translated address itself, not to a guest paging structure
           or a guest A/D update (bit 8; only with `linear`).
    page: (user-mode, writable, execute-disable) of the linear address, for the advanced
          information bits 9-11 (only with `linear` and `final`)."""

    def __init__(self, read=False, write=False, fetch=False, user=False, linear=False,
                 final=False, page=(0, 0, 0)):
        self.read, self.write, self.fetch, self.user = read, write, fetch, user
        self.linear, self.final, self.page = linear, final, page

    def qualification(self, rights, mbec):
        """Exit-qualification bits 0-11 for a violation; `rights` is the AND of the EPT entries
        walked, including the one that ended the walk (0 for a not-present entry)."""
        q = 0
        if self.read:
            q |= EQ_READ
        if self.write:
            q |= EQ_WRITE
        if self.fetch:
            q |= EQ_FETCH
        if rights & EPT_R:
            q |= EQ_READABLE
        if rights & EPT_W:
            q |= EQ_WRITABLE
        if rights & EPT_X:
            q |= EQ_EXECUTABLE
        if mbec and rights & EPT_XU:
            q |= EQ_USER_EXECUTABLE            # undefined (reported 0) without MBEC
        if self.linear:
            q |= EQ_LINEAR_VALID
            if self.final:
                q |= EQ_FINAL
                user, writable, xd = self.page  # advanced information: only with 7 and 8
                if user:
                    q |= EQ_USER_PAGE
                if writable:
                    q |= EQ_WRITABLE_PAGE
                if xd:
                    q |= EQ_XD_PAGE
        return q


class Ept:
    """The EPT paging structures rooted at a (validated) EPTP, in host-physical memory."""

    def __init__(self, spec, maxphyaddr, memory):
        if not isinstance(spec, dict):
            raise Invalid("ept must be an object")
        if "eptp" not in spec:
            raise Invalid("ept.eptp is required")
        eptp = number(spec["eptp"], "ept.eptp")
        self.mbec = spec.get("mode_based_execute", False)
        if not isinstance(self.mbec, bool):
            raise Invalid("ept.mode_based_execute must be true or false")
        M = maxphyaddr
        # VM entry checks the EPTP against the capabilities of this CPU (UC and WB, walk
        # lengths 4 and 5, EPT A/D): anything else is a VM-entry failure, so the case is invalid.
        memory_type = eptp & 7
        if memory_type not in EPTP_VALID_MEMORY_TYPES:
            raise Invalid(f"ept.eptp memory type {memory_type} (bits 2:0) is not UC (0) or WB (6)")
        walk_length = (eptp >> 3) & 7
        if walk_length not in EPTP_WALK_LEVELS:
            raise Invalid(f"ept.eptp page-walk length field {walk_length} (bits 5:3) is not "
                          "3 (4-level) or 4 (5-level)")
        if eptp & bits(11, 7):
            raise Invalid(f"ept.eptp reserved bits 11:7 are {(eptp >> 7) & 0x1F:#x}, not 0")
        if eptp >> M:
            raise Invalid(f"ept.eptp {eptp:#x} has bits set at or above MAXPHYADDR ({M})")
        self.levels = EPTP_WALK_LEVELS[walk_length]
        self.ad = bool(eptp & EPTP_AD)
        self.root = eptp & bits(M - 1, 12)
        self.M = M
        self.memory = memory

    def present(self, entry):
        """Present iff any of R, W, X(S) is set, or XU under mode-based execute."""
        if entry & (EPT_R | EPT_W | EPT_X):
            return True
        return self.mbec and bool(entry & EPT_XU)

    def reserved(self, level, leaf):
        """Reserved bits of a present entry: address bits 51:MAXPHYADDR everywhere, 7:3 in a
        PML5E/PML4E, 6:3 in a PDPTE/PDE that references a table, and the alignment bits of a
        1 GiB (29:12) or 2 MiB (20:12) page. A PTE has none below MAXPHYADDR."""
        H = bits(51, self.M)
        if level >= 4:
            return H | bits(7, 3)
        if not leaf:
            return H | bits(6, 3)
        if level == 3:
            return H | bits(29, 12)
        if level == 2:
            return H | bits(20, 12)
        return H

    def translate(self, gpa, acc):
        """Host-physical address and EPT page size for `gpa`, or EptViolation /
        EptMisconfiguration. Sets EPT A (every entry used) and D (the leaf, for an access that
        counts as a write) only when the translation succeeds and EPTP bit 6 is set."""
        mem = self.memory
        if self.levels == 4 and gpa >> 48:
            # With 4-level EPT, bits 51:48 of the guest-physical address must be 0; otherwise
            # EPT violation, with the permission bits cleared (as for a not-present entry).
            raise EptViolation(gpa, acc.qualification(0, self.mbec))
        table = self.root
        rights = EPT_R | EPT_W | EPT_X | EPT_XU
        used = []
        for level in range(self.levels, 0, -1):
            shift = 12 + 9 * (level - 1)
            addr = table | ((gpa >> shift) & 0x1FF) << 3
            entry = mem.read64(addr)
            used.append(addr)
            if not self.present(entry):
                raise EptViolation(gpa, acc.qualification(0, self.mbec))
            # Misconfigurations of a present entry.
            if entry & EPT_W and not entry & EPT_R:
                raise EptMisconfiguration(gpa, f"write without read at level {level}")
            leaf = level == 1 or (level in (2, 3) and bool(entry & EPT_PS))
            if entry & self.reserved(level, leaf):
                raise EptMisconfiguration(gpa, f"reserved bits at level {level}")
            if leaf and (entry >> 3) & 7 not in EPT_LEAF_MEMORY_TYPES:
                raise EptMisconfiguration(gpa, f"memory type {(entry >> 3) & 7} in the leaf")
            rights &= entry
            if leaf:
                break
            table = entry & bits(self.M - 1, 12)
        # Permissions (only once the walk met no misconfiguration).
        if not self.mbec:
            rights &= ~EPT_XU
        denied = (acc.read and not rights & EPT_R) or (acc.write and not rights & EPT_W)
        if acc.fetch:
            need = EPT_XU if (self.mbec and acc.user) else EPT_X
            denied = denied or not rights & need
        if denied:
            raise EptViolation(gpa, acc.qualification(rights, self.mbec))
        if self.ad:
            for i, addr in enumerate(used):
                flags = EPT_A | (EPT_D if (i == len(used) - 1 and acc.write) else 0)
                mem.write64(addr, mem.read64(addr) | flags)
        size = 1 << shift
        return (entry & bits(self.M - 1, shift)) | (gpa & (size - 1)), size


# ---------------------------------------------------------------------------------------------
# The walk.


class Walker:
    def __init__(self, s):
        self.s = s
        self.M = s.maxphyaddr
        self.write = s.kind == "write"
        self.fetch = s.kind == "fetch"
        self.user = s.cpl == 3 and not s.implicit  # implicit accesses are supervisor accesses
        self.nxe = bool(s.efer & EFER_NXE)
        self.ept = s.ept
        # (guest-physical address, physical address, size in bytes) of every entry used, top
        # level first. Without EPT the two addresses are the same.
        self.used = []

    # -- error codes ---------------------------------------------------------------------------
    def error_code(self, present, rsvd=False, pk=False):
        s = self.s
        ec = 0
        if present:
            ec |= PF_P
        if self.write:
            ec |= PF_W
        if self.user:
            ec |= PF_U
        if rsvd:
            ec |= PF_RSVD
        # I/D: a fetch, and CR4.SMEP=1 or (CR4.PAE=1 and EFER.NXE=1)  (SDM 4.7).
        if self.fetch and (s.cr4_bit(CR4_SMEP) or (s.cr4_bit(CR4_PAE) and self.nxe)):
            ec |= PF_ID
        if pk:
            ec |= PF_PK
        return ec

    def not_present(self):
        raise PageFault(self.error_code(present=False))

    def reserved(self):
        raise PageFault(self.error_code(present=True, rsvd=True))

    # -- reading entries ---------------------------------------------------------------------
    def entry_location(self, gpa):
        """Where a guest paging-structure entry is. With EPT its guest-physical address is
        translated first: a read, or a write when EPT A/D is on (SDM 29.3.3.2); the violation
        it may cause has linear-address-valid=1 and final-translation=0."""
        if self.ept is None:
            return gpa
        acc = EptAccess(read=True, write=self.ept.ad, linear=True)
        return self.ept.translate(gpa, acc)[0]

    def read8(self, addr):
        hpa = self.entry_location(addr)
        self.used.append((addr, hpa, 8))
        return self.s.memory.read64(hpa)

    def read4(self, addr):
        hpa = self.entry_location(addr)
        self.used.append((addr, hpa, 4))
        return self.s.memory.read32(hpa)

    def check(self, entry, rsvd_mask):
        """Present check first; reserved bits only count in a present entry."""
        if not entry & P:
            self.not_present()
        if entry & rsvd_mask:
            self.reserved()

    # -- the four modes ------------------------------------------------------------------------
    def walk(self):
        """Returns (physical, page_size, leaf rights) or raises PageFault."""
        mode = self.s.mode
        if mode == "32bit":
            return self.walk_32bit()
        if mode == "pae":
            return self.walk_pae()
        return self.walk_ia32e(5 if mode == "5level" else 4)

    def walk_32bit(self):
        s, lin = self.s, self.s.linear
        rw = us = 1
        pde_addr = (s.cr3 & 0xFFFFF000) | ((lin >> 22) & 0x3FF) << 2
        pde = self.read4(pde_addr)
        if s.cr4_bit(CR4_PSE) and pde & PS:
            # 4 MiB page. With PSE-36, M = min(MAXPHYADDR, 40): bits (M-20):13 hold PA bits
            # (M-1):32 and bits 21:(M-19) are reserved. Without PSE-36, M = 32: bits 21:13.
            m = min(self.M, 40) if "pse36" in s.features else 32
            self.check(pde, bits(21, m - 19))
            high = (pde >> 13) & bits(m - 33, 0)
            base = (pde & 0xFFC00000) | (high << 32)
            rw &= (pde >> 1) & 1
            us &= (pde >> 2) & 1
            return base | (lin & 0x3FFFFF), 1 << 22, (rw, us, 0, None)
        # Otherwise bit 7 is ignored (CR4.PSE=0) or 0: the PDE references a page table.
        # 32-bit PDEs and PTEs have no reserved bits.
        self.check(pde, 0)
        rw &= (pde >> 1) & 1
        us &= (pde >> 2) & 1
        pte_addr = (pde & 0xFFFFF000) | ((lin >> 12) & 0x3FF) << 2
        pte = self.read4(pte_addr)
        self.check(pte, 0)
        rw &= (pte >> 1) & 1
        us &= (pte >> 2) & 1
        return (pte & 0xFFFFF000) | (lin & 0xFFF), 1 << 12, (rw, us, 0, None)

    def pae_entry_reserved(self):
        """PAE PDE/PTE: bits 62:M, and bit 63 unless EFER.NXE=1 (SDM tables 4-10..4-11)."""
        mask = bits(62, self.M)
        if not self.nxe:
            mask |= XD
        return mask

    def walk_pae(self):
        lin = self.s.linear
        rw = us = 1
        xd = 0
        # The PDPTE registers were loaded (and validated) at CR3 load; see load_pdptes.
        pdpte = self.pdptes[(lin >> 30) & 3]
        if not pdpte & P:
            self.not_present()
        addr_mask = bits(self.M - 1, 12)
        pde_addr = (pdpte & addr_mask) | ((lin >> 21) & 0x1FF) << 3
        pde = self.read8(pde_addr)
        if pde & P and pde & PS:
            self.check(pde, self.pae_entry_reserved() | bits(20, 13))
            rw, us, xd = rw & (pde >> 1) & 1, us & (pde >> 2) & 1, xd | (pde >> 63)
            base = pde & bits(self.M - 1, 21)
            return base | (lin & bits(20, 0)), 1 << 21, (rw, us, xd, None)
        self.check(pde, self.pae_entry_reserved())
        rw, us, xd = rw & (pde >> 1) & 1, us & (pde >> 2) & 1, xd | (pde >> 63)
        pte_addr = (pde & addr_mask) | ((lin >> 12) & 0x1FF) << 3
        pte = self.read8(pte_addr)
        self.check(pte, self.pae_entry_reserved())
        rw, us, xd = rw & (pte >> 1) & 1, us & (pte >> 2) & 1, xd | (pte >> 63)
        return (pte & addr_mask) | (lin & 0xFFF), 1 << 12, (rw, us, xd, None)

    def load_pdptes(self):
        """MOV CR3 in PAE mode loads four PDPTEs from CR3[31:5]; a present one with a reserved
        bit (63:M, 8:5, 2:1) makes the load #GP, so the case is invalid."""
        s = self.s
        base = s.cr3 & 0xFFFFFFE0
        rsvd = bits(63, self.M) | bits(8, 5) | bits(2, 1)
        # With EPT the 32-byte PDPT (one page) is translated once. The load belongs to MOV CR3,
        # not to a linear access: a read even with EPT A/D on (SDM 29.3.3.2), and a violation
        # has linear-address-valid=0 (SDM, exit qualification for EPT violations, bit 7).
        hbase = base
        if self.ept is not None:
            hbase = self.ept.translate(base, EptAccess(read=True))[0]
        self.pdptes = []
        for i in range(4):
            e = s.memory.read64(hbase + 8 * i)
            if e & P and e & rsvd:
                raise Invalid(f"PDPTE {i} at {base + 8 * i:#x} ({e:#x}) has reserved bits "
                              f"{e & rsvd:#x} set; loading CR3 would #GP")
            self.pdptes.append(e)

    def walk_ia32e(self, levels):
        s, lin = self.s, self.s.linear
        H = bits(51, self.M)          # address bits at or above MAXPHYADDR
        XDR = 0 if self.nxe else XD   # XD is reserved when EFER.NXE=0
        addr_mask = bits(self.M - 1, 12)
        rw = us = 1
        xd = 0
        table = s.cr3 & addr_mask
        for level in range(levels, 0, -1):
            shift = 12 + 9 * (level - 1)
            entry = self.read8(table | ((lin >> shift) & 0x1FF) << 3)
            if not entry & P:
                self.not_present()
            is_ps = bool(entry & PS)
            if level >= 4:
                rsvd = H | XDR | PS            # PS is reserved in PML5E/PML4E
            elif level == 3 and is_ps:
                if "pdpe1gb" not in s.features:
                    rsvd = H | XDR | PS        # no 1 GiB pages: PDPTE.PS is reserved
                else:
                    rsvd = H | XDR | bits(29, 13)
            elif level == 2 and is_ps:
                rsvd = H | XDR | bits(20, 13)
            else:
                rsvd = H | XDR
            self.check(entry, rsvd)
            rw &= (entry >> 1) & 1
            us &= (entry >> 2) & 1
            xd |= entry >> 63
            leaf = level == 1 or (is_ps and level in (2, 3))
            if leaf:
                size = 1 << shift
                base = entry & bits(self.M - 1, shift)
                key = (entry >> 59) & 0xF    # protection key, leaf bits 62:59
                return base | (lin & (size - 1)), size, (rw, us, xd, key)
            table = entry & addr_mask
        raise AssertionError("unreachable")

    # -- access rights (SDM 4.6) ---------------------------------------------------------------
    def check_rights(self, rights):
        s = self.s
        rw, us, xd, key = rights
        wp = s.cr0_bit(CR0_WP)
        fault = False
        if self.fetch:
            if self.nxe and xd:
                fault = True                       # execute-disable
            if self.user and not us:
                fault = True                       # user fetch from a supervisor page
            if not self.user and us and s.cr4_bit(CR4_SMEP):
                fault = True                       # SMEP
        else:
            if self.user:
                if not us:
                    fault = True                   # user access to a supervisor page
                if self.write and not rw:
                    fault = True                   # user write to a read-only page
            else:
                ac_override = not s.implicit and s.rflags & RFLAGS_AC
                if us and s.cr4_bit(CR4_SMAP) and not ac_override:
                    fault = True                   # SMAP (AC overrides explicit accesses only)
                if self.write and not rw and wp:
                    fault = True                   # supervisor write to read-only with CR0.WP=1
        # Protection keys: IA-32e only, data accesses only; PKRU for user pages (CR4.PKE),
        # IA32_PKRS for supervisor pages (CR4.PKS). WD blocks user writes, and supervisor
        # writes only when CR0.WP=1.
        pk = False
        if key is not None and not self.fetch:
            reg = None
            if us and s.cr4_bit(CR4_PKE):
                reg = s.pkru
            elif not us and s.cr4_bit(CR4_PKS):
                reg = s.pkrs
            if reg is not None:
                ad = (reg >> (2 * key)) & 1
                wd = (reg >> (2 * key + 1)) & 1
                if ad or (wd and self.write and (self.user or wp)):
                    pk = True
        if fault or pk:
            raise PageFault(self.error_code(present=True, pk=pk))

    # -- accessed / dirty ----------------------------------------------------------------------
    def set_accessed_dirty(self):
        """A in every entry used, D in the leaf on a write; top level first. With EPT each
        update that changes an entry is a locked read-modify-write of its guest-physical
        address: translated again, needing EPT read and write permission (a violation reports
        bits 0 and 1, linear-address-valid=1, final-translation=0). Updates made before such a
        violation stay made."""
        mem = self.s.memory
        for i, (gpa, hpa, size) in enumerate(self.used):
            last = i == len(self.used) - 1
            flags = A | (D if last and self.write else 0)
            read, write = (mem.read32, mem.write32) if size == 4 else (mem.read64, mem.write64)
            if read(hpa) | flags == read(hpa):
                continue
            if self.ept is not None:
                rmw = EptAccess(read=True, write=True, linear=True)
                hpa = self.ept.translate(gpa, rmw)[0]
            write(hpa, read(hpa) | flags)

    def translate_final(self, gpa, rights):
        """The guest-physical address the guest walk produced, through EPT: (physical, EPT
        page size). `rights` gives the advanced exit information: the linear address is
        user-mode if U/S=1, writable if R/W=1 in every guest entry, execute-disable if XD=1 in
        one; under mode-based execute, a fetch checks XU for a user-mode address, else XS."""
        rw, us, xd, _ = rights
        acc = EptAccess(read=self.s.kind == "read", write=self.write, fetch=self.fetch,
                        user=bool(us), linear=True, final=True, page=(us, rw, xd))
        return self.ept.translate(gpa, acc)


def run(case):
    """The result object `specc walk` must print for `case` (key order aside)."""
    cid = case.get("id") if isinstance(case, dict) else None
    head = {"id": cid} if isinstance(case, dict) and "id" in case else {}
    try:
        s = State(case)
        try:
            return {**head, **translate(s)}
        except EptViolation as v:
            return {**head, "result": "ept-violation", "guest_physical": hexs(v.guest_physical),
                    "exit_qualification": hexs(v.qualification), "writes": s.memory.changes()}
        except EptMisconfiguration as m:
            return {**head, "result": "ept-misconfiguration",
                    "guest_physical": hexs(m.guest_physical)}
    except Invalid as e:
        return {**head, "result": "invalid", "message": str(e)}


def translate(s):
    """One access of a parsed case. Order with EPT (KVM's nested walker): walk the guest tables,
    each entry's guest-physical address through EPT first; check the guest's rights (a guest #PF
    wins over later EPT problems); translate the final guest-physical address; only then set
    the guest A/D flags, each update a read-modify-write through EPT."""

    def ok(physical, size):
        return {"result": "ok", "physical": hexs(physical), "page_size": size,
                "writes": s.memory.changes()}

    if s.guest_physical is not None:
        # No linear address: bit 7 of the qualification is 0; `user` picks XS/XU under MBEC.
        acc = EptAccess(read=s.kind == "read", write=s.kind == "write",
                        fetch=s.kind == "fetch", user=s.user)
        return ok(*s.ept.translate(s.guest_physical, acc))
    mode = s.mode
    if mode in ("none", "32bit", "pae") and s.linear > 0xFFFFFFFF:
        raise Invalid(f"linear address {s.linear:#x} does not fit 32 bits outside IA-32e mode")
    if mode == "none":
        if s.ept is None:
            return ok(s.linear, 1 << 32)
        # Paging off: the linear address is the guest-physical address, and it counts as
        # user-mode, writable and executable (XU under MBEC; advanced bits 9 and 10 set).
        acc = EptAccess(read=s.kind == "read", write=s.kind == "write",
                        fetch=s.kind == "fetch", user=True, linear=True, final=True,
                        page=(1, 1, 0))
        return ok(*s.ept.translate(s.linear, acc))
    w = Walker(s)
    if mode == "pae":
        w.load_pdptes()
    if mode in ("4level", "5level"):
        width = 48 if mode == "4level" else 57
        top = s.linear >> (width - 1)
        if top not in (0, (1 << (65 - width)) - 1):
            return {"result": "general-protection"}
    try:
        physical, size, rights = w.walk()
        w.check_rights(rights)
    except PageFault as pf:
        # Without EPT nothing has been written yet; with EPT A/D, the EPT A (and D) flags of
        # the translations of the guest tables read so far have been.
        return {"result": "page-fault", "error_code": hexs(pf.error_code),
                "writes": s.memory.changes()}
    if s.ept is not None:
        physical, ept_size = w.translate_final(physical, rights)
        size = min(size, ept_size)
    w.set_accessed_dirty()
    return ok(physical, size)


# ---------------------------------------------------------------------------------------------
# Command line.


def read_cases(path):
    text = sys.stdin.read() if path == "-" else open(path).read()
    if path.endswith(".json"):
        return [json.loads(text)]
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def strip_message(r):
    return {k: v for k, v in r.items() if k != "message"}


def check_examples(cases_path, results_path):
    cases = read_cases(cases_path)
    results = read_cases(results_path)
    agree = disagree = skipped = 0
    for case, want in zip(cases, results):
        try:
            got = run(case)
        except Unsupported as e:
            skipped += 1
            print(f"skip  {case.get('id')}: {e}")
            continue
        if strip_message(got) == strip_message(want):
            agree += 1
            print(f"ok    {case.get('id')}")
        else:
            disagree += 1
            print(f"FAIL  {case.get('id')}\n  want {json.dumps(want)}\n  got  {json.dumps(got)}")
    print(f"{agree} agree, {disagree} disagree, {skipped} skipped")
    return 0 if disagree == 0 else 1


def check_golden(path):
    bad = 0
    n = 0
    for line in open(path):
        if not line.strip():
            continue
        n += 1
        g = json.loads(line)
        case = {k: v for k, v in g.items() if k not in ("reason", "expect")}
        got = strip_message(run(case))
        if got != g["expect"]:
            bad += 1
            print(f"FAIL {g.get('id')}: expect {g['expect']} oracle {got}")
    print(f"{n - bad}/{n} golden cases agree with the oracle")
    return 0 if bad == 0 else 1


def main(argv):
    if len(argv) == 3 and argv[0] == "--check-examples":
        return check_examples(argv[1], argv[2])
    if len(argv) == 2 and argv[0] == "--check-golden":
        return check_golden(argv[1])
    if len(argv) == 1:
        status = 0
        for case in read_cases(argv[0]):
            r = run(case)
            if r["result"] == "invalid":
                status = 1
            print(json.dumps(r))
        return status
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
