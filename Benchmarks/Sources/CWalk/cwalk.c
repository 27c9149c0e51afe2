// Hand-written KVM-style walkers: the baselines of the generated MMU. See cwalk.h.
#include "cwalk.h"

#include <string.h>

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define PT_PRESENT 0x1ull
#define PT_WRITABLE 0x2ull
#define PT_USER 0x4ull
#define PT_ACCESSED 0x20ull
#define PT_DIRTY 0x40ull
#define PT_PS 0x80ull
#define PT_NX (1ull << 63)
#define ADDR_MASK 0x000ffffffffff000ull

#define EPT_READ 0x1ull
#define EPT_WRITE 0x2ull
#define EPT_EXEC 0x4ull
#define EPT_ACCESSED 0x100ull
#define EPT_DIRTY 0x200ull
#define EPT_XU 0x400ull

// EPT access bits (cw_walk_ept's `acc`).
#define EA_READ 1u
#define EA_WRITE 2u
#define EA_FETCH 4u
#define EA_GUEST_USER 8u
#define EA_FINAL 16u
#define EA_LINEAR 32u

static inline int load64(const cw_memory *m, uint64_t a, uint64_t *v) {
    if (unlikely(a > m->size - 8)) return 0;
    *v = __atomic_load_n((const uint64_t *)(m->base + a), __ATOMIC_ACQUIRE);
    return 1;
}

static inline int cas64(const cw_memory *m, uint64_t a, uint64_t expected, uint64_t desired) {
    if (unlikely(a > m->size - 8)) return 0;
    return __atomic_compare_exchange_n((uint64_t *)(m->base + a), &expected, desired, 0, __ATOMIC_ACQ_REL,
                                       __ATOMIC_ACQUIRE);
}

// ---------------------------------------------------------------------------------------------
// Setup: what KVM's reset_rsvds_bits_mask and update_permission_bitmask do.

void cw_guest_init(cw_guest_mmu *mmu, uint64_t cr0, uint64_t cr3, uint64_t cr4, uint64_t efer, uint64_t rflags,
                   uint32_t pkru, uint32_t pkrs, uint32_t max_phys_bits, bool pdpe1gb) {
    memset(mmu, 0, sizeof(*mmu));
    const int wp = (cr0 >> 16) & 1, pae = (cr4 >> 5) & 1, la57 = (cr4 >> 12) & 1, smep = (cr4 >> 20) & 1,
              smap = (cr4 >> 21) & 1, pke = (cr4 >> 22) & 1, pks = (cr4 >> 24) & 1, lma = (efer >> 10) & 1,
              nxe = (efer >> 11) & 1, ac = (rflags >> 18) & 1;
    mmu->root = cr3 & ADDR_MASK;
    mmu->levels = la57 ? 5 : 4;
    mmu->va_bits = la57 ? 57 : 48;
    mmu->addr_mask = ADDR_MASK;
    mmu->nx_xor = PT_NX;
    mmu->ad = 1;
    mmu->id_flag = (smep || (pae && nxe)) ? 0x10 : 0;
    const uint64_t high = max_phys_bits >= 52 ? 0 : ADDR_MASK & ~((1ull << max_phys_bits) - 1);
    const uint64_t base = high | (nxe ? 0 : PT_NX);
    // PTE: bit 7 is PAT, the same mask either way.
    mmu->rsvd[0][0] = mmu->rsvd[0][1] = base;
    mmu->leaf_mask[0] = ~0ull;
    // PDE: 2 MiB pages; bits 20:13 reserved in a leaf.
    mmu->rsvd[1][0] = base;
    mmu->rsvd[1][1] = base | 0x1fe000ull;
    mmu->leaf_mask[1] = PT_PS;
    // PDPTE: 1 GiB pages with pdpe1gb, else PS is reserved.
    mmu->rsvd[2][0] = base;
    mmu->rsvd[2][1] = base | (pdpe1gb ? 0x3fffe000ull : PT_PS);
    mmu->leaf_mask[2] = PT_PS;
    // PML4E and PML5E: PS reserved.
    for (int l = 3; l < 5; l++) {
        mmu->rsvd[l][0] = mmu->rsvd[l][1] = base | PT_PS;
        mmu->leaf_mask[l] = 0;
    }
    for (uint32_t c = 0; c < 16; c++) {
        const int w = c & CW_ACC_WRITE, u = (c & CW_ACC_USER) != 0, f = (c & CW_ACC_FETCH) != 0,
                  imp = (c & CW_ACC_IMPLICIT) != 0, data = !f, sup = !u;
        uint8_t map = 0;
        for (uint32_t r = 0; r < 8; r++) {
            const int rx = r & 1, rw = (r >> 1) & 1, ru = (r >> 2) & 1;
            const int uf = u && !ru;                                  // user access to a supervisor page
            const int wf = w && !rw && (u || wp);                     // write to a read-only page
            const int ff = f && !rx && nxe;                           // fetch from an NX page
            const int smepf = f && sup && ru && smep;                 // supervisor fetch from a user page
            const int smapf = data && sup && ru && smap && (imp || !ac);  // supervisor data access, user page
            if (uf || wf || ff || smepf || smapf) map |= (uint8_t)(1u << r);
        }
        mmu->permissions[c] = map;
        for (int pu = 0; pu < 2; pu++) {
            const int on = data && lma && (pu ? pke : pks);
            mmu->pk_mask[c][pu] = (uint8_t)(on ? (1u | ((w && (u || wp)) ? 2u : 0u)) : 0u);
        }
    }
    mmu->pk_reg[0] = pkrs;
    mmu->pk_reg[1] = pkru;
}

void cw_ept_init(cw_ept_mmu *mmu, uint64_t eptp, uint32_t max_phys_bits, bool execute_only, bool pde_2m,
                 bool pdpte_1g, bool mode_based_execute) {
    memset(mmu, 0, sizeof(*mmu));
    mmu->root = eptp & ADDR_MASK;
    mmu->levels = ((eptp >> 3) & 7) == 4 ? 5 : 4;
    mmu->gpa_bits = mmu->levels == 5 ? 57 : 48;
    mmu->addr_mask = ADDR_MASK;
    mmu->present_mask = EPT_READ | EPT_WRITE | EPT_EXEC | (mode_based_execute ? EPT_XU : 0);
    mmu->ad = (eptp >> 6) & 1;
    const uint64_t high = max_phys_bits >= 52 ? 0 : ADDR_MASK & ~((1ull << max_phys_bits) - 1);
    mmu->rsvd[0][0] = mmu->rsvd[0][1] = high;
    mmu->leaf_mask[0] = ~0ull;
    mmu->rsvd[1][0] = high | 0x78;
    mmu->rsvd[1][1] = high | (pde_2m ? 0x1ff000ull : PT_PS);
    mmu->leaf_mask[1] = PT_PS;
    mmu->rsvd[2][0] = high | 0x78;
    mmu->rsvd[2][1] = high | (pdpte_1g ? 0x3ffff000ull : PT_PS);
    mmu->leaf_mask[2] = PT_PS;
    for (int l = 3; l < 5; l++) {
        mmu->rsvd[l][0] = mmu->rsvd[l][1] = high | 0xf8;
        mmu->leaf_mask[l] = 0;
    }
    // XWR: write without read; execute-only without the capability.
    mmu->bad_xwr = (uint8_t)((1u << 2) | (1u << 6) | (execute_only ? 0 : (1u << 4)));
    mmu->bad_mt = (1u << 2) | (1u << 3) | (1u << 7);
    for (uint32_t c = 0; c < 32; c++) {
        const int r = c & EA_READ, w = (c & EA_WRITE) != 0, x = (c & EA_FETCH) != 0, gu = (c & EA_GUEST_USER) != 0;
        uint16_t map = 0;
        for (uint32_t acc = 0; acc < 16; acc++) {
            const int rr = acc & 1, rw = (acc >> 1) & 1, rx = (acc >> 2) & 1, rxu = (acc >> 3) & 1;
            const int fault = (r && !rr) || (w && !rw) || (x && !rx && (!mode_based_execute || !gu)) ||
                              (x && !rxu && mode_based_execute && gu);
            if (fault) map |= (uint16_t)(1u << acc);
        }
        mmu->permissions[c] = map;
    }
}

// ---------------------------------------------------------------------------------------------
// Fault reports (cold).

__attribute__((noinline, cold)) static uint32_t guest_fault(const cw_guest_mmu *mmu, cw_result *r, uint32_t acc,
                                                            uint64_t flags, uint32_t level, uint32_t rights) {
    uint64_t code = flags;
    if (acc & CW_ACC_WRITE) code |= 0x2;
    if (acc & CW_ACC_USER) code |= 0x4;
    if (acc & CW_ACC_FETCH) code |= mmu->id_flag;
    r->status = CW_PAGE_FAULT;
    r->error_code = code;
    r->level = level;
    r->rights = rights;
    return CW_PAGE_FAULT;
}

__attribute__((noinline, cold)) static uint32_t ept_fault(cw_result *r, uint32_t status, uint32_t acc,
                                                          uint32_t rights, uint32_t level) {
    r->status = status;
    r->level = level;
    r->rights = rights;
    if (status == CW_EPT_VIOLATION) {
        uint64_t q = 0;
        if (acc & EA_READ) q |= 1;
        if (acc & EA_WRITE) q |= 2;
        if (acc & EA_FETCH) q |= 4;
        q |= (uint64_t)(rights & 7) << 3;
        if (acc & EA_LINEAR) q |= 0x80;
        if ((acc & EA_LINEAR) && (acc & EA_FINAL)) q |= 0x100;
        r->error_code = q;
    } else {
        r->error_code = 0;
    }
    return status;
}

// ---------------------------------------------------------------------------------------------
// EPT.

/// The EPT walk, inlined into the nested walker. On success sets *hpa and *size.
static inline __attribute__((always_inline)) uint32_t ept_core(const cw_ept_mmu *mmu, const cw_memory *mem,
                                                               uint64_t gpa, uint32_t acc, uint64_t *hpa,
                                                               uint64_t *size, cw_result *r) {
    if (unlikely(gpa >> mmu->gpa_bits)) return ept_fault(r, CW_EPT_VIOLATION, acc, 0, 0);
    uint64_t addrs[5], ptes[5];
    int retries = 0;
restart:;
    uint64_t table = mmu->root, rights = ~0ull, ad_all = ~0ull, pte = 0;
    int li = (int)mmu->levels - 1, n = 0;
    for (;;) {
        const uint64_t a = table + ((gpa >> (12 + 9 * li)) & 511) * 8;
        if (unlikely(!load64(mem, a, &pte))) {
            r->status = CW_OUTSIDE;
            r->physical = a;
            return CW_OUTSIDE;
        }
        rights &= pte;
        const uint32_t racc = (uint32_t)((rights & 7) | ((rights >> 7) & 8));
        if (unlikely(!(pte & mmu->present_mask)))
            return ept_fault(r, CW_EPT_VIOLATION, acc, racc, (uint32_t)(mmu->levels - 1 - li));
        if (unlikely((mmu->bad_xwr >> (pte & 7)) & 1) || unlikely(pte & mmu->rsvd[li][(pte >> 7) & 1]))
            return ept_fault(r, CW_EPT_MISCONFIG, acc, racc, (uint32_t)(mmu->levels - 1 - li));
        addrs[n] = a;
        ptes[n] = pte;
        n++;
        ad_all &= pte;
        if (pte & mmu->leaf_mask[li]) break;
        table = pte & mmu->addr_mask;
        li--;
    }
    const uint32_t racc = (uint32_t)((rights & 7) | ((rights >> 7) & 8));
    if (unlikely((mmu->bad_mt >> ((pte >> 3) & 7)) & 1))
        return ept_fault(r, CW_EPT_MISCONFIG, acc, racc, (uint32_t)(mmu->levels - 1 - li));
    if (unlikely((mmu->permissions[acc & 15] >> racc) & 1))
        return ept_fault(r, CW_EPT_VIOLATION, acc, racc, (uint32_t)(mmu->levels - 1 - li));
    if (mmu->ad && unlikely(!(ad_all & EPT_ACCESSED) || ((acc & EA_WRITE) && !(pte & EPT_DIRTY)))) {
        for (int i = 0; i < n; i++) {
            uint64_t updated = ptes[i] | EPT_ACCESSED;
            if (i == n - 1 && (acc & EA_WRITE)) updated |= EPT_DIRTY;
            if (updated != ptes[i] && !cas64(mem, addrs[i], ptes[i], updated) && ++retries < 64) goto restart;
        }
    }
    const uint64_t page_mask = (1ull << (12 + 9 * li)) - 1;
    *hpa = (pte & mmu->addr_mask & ~page_mask) | (gpa & page_mask);
    *size = page_mask + 1;
    r->leaf = pte;
    r->level = (uint32_t)(mmu->levels - 1 - li);
    r->rights = racc;
    return CW_OK;
}

uint32_t cw_walk_ept(const cw_ept_mmu *mmu, const cw_memory *mem, uint64_t gpa, uint32_t acc, cw_result *r) {
    uint64_t hpa, size;
    const uint32_t st = ept_core(mmu, mem, gpa, acc, &hpa, &size, r);
    if (unlikely(st != CW_OK)) {
        r->guest_physical = gpa;
        return st;
    }
    r->status = CW_OK;
    r->physical = hpa;
    r->page_size = size;
    return CW_OK;
}

// ---------------------------------------------------------------------------------------------
// IA-32e paging, direct or nested.

/// The guest walk; `NESTED` translates every guest-physical address through EPT.
static inline __attribute__((always_inline)) uint32_t guest_core(const cw_guest_mmu *mmu, const cw_ept_mmu *ept,
                                                                 const cw_memory *mem, uint64_t va, uint32_t acc,
                                                                 cw_result *r, const int nested) {
    const uint32_t shift = 64 - mmu->va_bits;
    if (unlikely((uint64_t)((int64_t)(va << shift) >> shift) != va)) {
        r->status = CW_GP;
        return CW_GP;
    }
    // EPT access for guest paging-structure reads: a write when EPT A/D is on.
    const uint32_t structure_acc = EA_READ | EA_LINEAR | (nested && ept->ad ? EA_WRITE : 0);
    uint64_t addrs[5], ptes[5];
    int retries = 0;
restart:;
    uint64_t table = mmu->root, rights = ~0ull, ad_all = ~0ull, pte = 0;
    int li = (int)mmu->levels - 1, n = 0;
    for (;;) {
        const uint64_t a = table + ((va >> (12 + 9 * li)) & 511) * 8;
        uint64_t host = a;
        if (nested) {
            uint64_t size;
            if (unlikely(ept_core(ept, mem, a, structure_acc, &host, &size, r) != CW_OK)) {
                r->guest_physical = a;
                return r->status;
            }
        }
        if (unlikely(!load64(mem, host, &pte))) {
            r->status = CW_OUTSIDE;
            r->physical = host;
            return CW_OUTSIDE;
        }
        rights &= pte ^ mmu->nx_xor;
        if (unlikely(!(pte & PT_PRESENT)))
            return guest_fault(mmu, r, acc, 0, (uint32_t)(mmu->levels - 1 - li),
                               (uint32_t)((rights >> 63) | (rights & 6)));
        if (unlikely(pte & mmu->rsvd[li][(pte >> 7) & 1]))
            return guest_fault(mmu, r, acc, 0x9, (uint32_t)(mmu->levels - 1 - li),
                               (uint32_t)((rights >> 63) | (rights & 6)));
        addrs[n] = a;
        ptes[n] = pte;
        n++;
        ad_all &= pte;
        if (pte & mmu->leaf_mask[li]) break;
        table = pte & mmu->addr_mask;
        li--;
    }
    // The permission check: rights as x | w<<1 | u<<2, one bitmap per access class; protection keys
    // as KVM's pkru_mask.
    const uint32_t racc = (uint32_t)((rights >> 63) | (rights & 6));
    const uint32_t pu = racc >> 2;
    const uint32_t key = (uint32_t)(pte >> 59) & 15;
    const uint32_t pk = (mmu->pk_reg[pu] >> (key * 2)) & mmu->pk_mask[acc][pu];
    if (unlikely(((mmu->permissions[acc] >> racc) & 1) | pk))
        return guest_fault(mmu, r, acc, pk ? 0x21 : 0x1, (uint32_t)(mmu->levels - 1 - li), racc);
    const uint64_t page_mask = (1ull << (12 + 9 * li)) - 1;
    uint64_t physical = (pte & mmu->addr_mask & ~page_mask) | (va & page_mask);
    uint64_t size = page_mask + 1;
    if (nested) {
        // The final guest-physical address, before any A/D update.
        uint32_t fa = EA_LINEAR | EA_FINAL | ((racc & 4) ? EA_GUEST_USER : 0);
        fa |= (acc & CW_ACC_FETCH) ? EA_FETCH : (acc & CW_ACC_WRITE) ? EA_WRITE : EA_READ;
        uint64_t host, esize;
        if (unlikely(ept_core(ept, mem, physical, fa, &host, &esize, r) != CW_OK)) {
            r->guest_physical = physical;
            return r->status;
        }
        physical = host;
        if (esize < size) size = esize;
    }
    if (unlikely(!(ad_all & PT_ACCESSED) || ((acc & CW_ACC_WRITE) && !(pte & PT_DIRTY)))) {
        for (int i = 0; i < n; i++) {
            uint64_t updated = ptes[i] | PT_ACCESSED;
            if (i == n - 1 && (acc & CW_ACC_WRITE)) updated |= PT_DIRTY;
            if (updated == ptes[i]) continue;
            uint64_t host = addrs[i];
            if (nested) {
                uint64_t esize;
                if (ept_core(ept, mem, addrs[i], EA_READ | EA_WRITE | EA_LINEAR, &host, &esize, r) != CW_OK) {
                    r->guest_physical = addrs[i];
                    return r->status;
                }
            }
            if (!cas64(mem, host, ptes[i], updated) && ++retries < 64) goto restart;
        }
    }
    r->status = CW_OK;
    r->physical = physical;
    r->page_size = size;
    r->leaf = pte;
    r->level = (uint32_t)(mmu->levels - 1 - li);
    r->rights = racc;
    return CW_OK;
}

uint32_t cw_walk_guest(const cw_guest_mmu *mmu, const cw_memory *mem, uint64_t va, uint32_t acc, cw_result *r) {
    return guest_core(mmu, 0, mem, va, acc, r, 0);
}

uint32_t cw_walk_nested(const cw_guest_mmu *guest, const cw_ept_mmu *ept, const cw_memory *mem, uint64_t va,
                        uint32_t acc, cw_result *r) {
    return guest_core(guest, ept, mem, va, acc, r, 1);
}

// ---------------------------------------------------------------------------------------------
// TLB.

void cw_tlb_fill(cw_tlb *tlb, uint64_t va, const cw_result *r) {
    const uint64_t vpn = va >> 12;
    cw_tlb_entry *e = &tlb->entries[vpn & tlb->mask];
    e->tag = (vpn << 1) | 1;
    e->frame = r->physical & ~0xfffull;
    e->eptp = tlb->eptp;
    e->vpid = tlb->vpid;
    e->global = (uint8_t)((r->leaf >> 8) & 1);
    e->pcid = e->global ? 0 : tlb->pcid;
    e->rights = (uint8_t)r->rights;
    e->key = (uint8_t)((r->leaf >> 59) & 15);
    // A write to a page whose dirty flag is clear must walk, to set it.
    e->write_miss = (r->leaf & PT_DIRTY) ? 0 : 1;
}

uint64_t cw_tlb_lookup(const cw_tlb *tlb, uint64_t va, uint32_t acc) {
    const uint64_t vpn = va >> 12;
    const cw_tlb_entry *e = &tlb->entries[vpn & tlb->mask];
    if (unlikely(e->tag != ((vpn << 1) | 1) || e->vpid != tlb->vpid || e->eptp != tlb->eptp ||
                 (!e->global && e->pcid != tlb->pcid)))
        return ~0ull;
    const cw_guest_mmu *mmu = tlb->mmu;
    const uint32_t pu = e->rights >> 2;
    const uint32_t deny = ((mmu->permissions[acc] >> e->rights) & 1) |
                          ((mmu->pk_reg[pu] >> (e->key * 2)) & mmu->pk_mask[acc][pu]) | (acc & e->write_miss);
    if (unlikely(deny)) return ~0ull;
    return e->frame | (va & 0xfff);
}
