/* Helpers every simulation test uses: counters by name and sysctls that must
 * take. Include after <cmocka.h>. */
#ifndef USTACK_TESTS_SIM_UTIL_H
#define USTACK_TESTS_SIM_UTIL_H

#include "ustack/stack.h"

/* A counter by its nstat name; fails the test if there is no such counter. */
static inline uint64_t ctr(struct us_stack *s, const char *name)
{
    int64_t v = us_mib_get(us_stack_mib(s), name);
    if (v < 0)
        fail_msg("no counter named %s", name);
    return (uint64_t)v;
}

/* Sets a sysctl; fails the test with the stack's message if it is refused. */
static inline void set_knob(struct us_stack *s, const char *key, const char *value)
{
    char err[160];
    if (us_sysctl_set(s, key, value, err, sizeof(err)) != 0)
        fail_msg("%s", err);
}

/* A stack for a test topology; fails the test if it cannot be made. */
static inline struct us_stack *sim_stack_new(const char *name, uint64_t seed)
{
    struct us_stack_config sc = {.name = name, .seed = seed};
    struct us_stack *s = us_stack_new(&sc);
    assert_non_null(s);
    return s;
}

#endif
