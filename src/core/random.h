/* A small, seeded, per-owner PRNG (xoshiro256**, seeded by splitmix64):
 * deterministic so simulations replay bit for bit from a seed. Not for
 * secrets; hash keys and ISNs are seeded from getrandom unless a test fixes it. */
#ifndef USTACK_CORE_RANDOM_H
#define USTACK_CORE_RANDOM_H

#include <stdint.h>

struct us_rng {
    uint64_t s[4];
};

void us_rng_seed(struct us_rng *r, uint64_t seed);
uint64_t us_rng_next(struct us_rng *r);
/* Uniform in [0, 1). */
double us_rng_double(struct us_rng *r);
/* Uniform in [0, n), n > 0. */
uint64_t us_rng_below(struct us_rng *r, uint64_t n);
/* 64 bits from getrandom(), or from the clock if that fails. */
uint64_t us_random_seed(void);

#endif
