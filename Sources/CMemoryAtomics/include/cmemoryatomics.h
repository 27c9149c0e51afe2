#ifndef SPECC_CMEMORYATOMICS_H
#define SPECC_CMEMORYATOMICS_H
#include <stdint.h>
#include <stdbool.h>

/// Atomic loads and compare-exchange on guest memory, for accessed/dirty updates that must not
/// lose a concurrent writer's change (SDM Vol. 3A §4.8: the processor sets A/D atomically).
static inline uint64_t specc_load64(const void *p) { return __atomic_load_n((const uint64_t *)p, __ATOMIC_ACQUIRE); }
static inline uint32_t specc_load32(const void *p) { return __atomic_load_n((const uint32_t *)p, __ATOMIC_ACQUIRE); }
static inline bool specc_cas64(void *p, uint64_t expected, uint64_t desired) {
    return __atomic_compare_exchange_n((uint64_t *)p, &expected, desired, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
static inline bool specc_cas32(void *p, uint32_t expected, uint32_t desired) {
    return __atomic_compare_exchange_n((uint32_t *)p, &expected, desired, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
#endif
