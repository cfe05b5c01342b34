/*
 * QEMU TCG plugin: counts executed guest instructions exactly, in total and per named
 * address range (the functions of one layer), and the deepest stack store, between
 * executions of one marker address.
 *
 * Debian's QEMU ships no qemu-plugin.h, so the few declarations of the plugin API
 * (version 1, QEMU 7.2) used here are written out below.
 *
 * Arguments (-plugin insn_count.so,mark=0x...,stack_lo=0x...,stack_hi=0x...,
 *            range=K:0x...:0x...,...,out=FILE):
 *   mark      address whose every execution prints a line
 *             "mark <insns> <lowest> <c0> ... <c7>" (in decimal): the instructions
 *             executed so far, the lowest address stored to in [stack_lo, stack_hi)
 *             since the previous mark (stack_hi if none), and the instructions executed
 *             so far inside each range group
 *   stack_lo, stack_hi   the stack region (optional; no store tracking without it)
 *   range     K:LO:HI, any number of times: instructions at addresses in [LO, HI) count
 *             for group K (0..7); a group may hold several ranges (e.g. the functions of
 *             one layer)
 *   out       file for the report (default: stderr); a last line "total <insns>"
 *   profile   file for a per-address profile, written at exit: one line
 *             "<address in hex> <executions>" per executed instruction (for finding
 *             where a kernel's instructions go; slower)
 * Build: gcc -O2 -shared -fPIC -o insn_count.so insn_count.c
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t;
typedef uint32_t qemu_plugin_meminfo_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS };
enum qemu_plugin_mem_rw { QEMU_PLUGIN_MEM_R = 1, QEMU_PLUGIN_MEM_W, QEMU_PLUGIN_MEM_RW };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };

void qemu_plugin_register_vcpu_tb_trans_cb(
    qemu_plugin_id_t id, void (*cb)(qemu_plugin_id_t, struct qemu_plugin_tb *));
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id,
                                    void (*cb)(qemu_plugin_id_t, void *), void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t i);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *insn,
                                                enum qemu_plugin_op op, void *ptr,
                                                uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn,
                                            void (*cb)(unsigned int, void *),
                                            enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_vcpu_mem_cb(struct qemu_plugin_insn *insn,
                                      void (*cb)(unsigned int, qemu_plugin_meminfo_t,
                                                 uint64_t, void *),
                                      enum qemu_plugin_cb_flags flags,
                                      enum qemu_plugin_mem_rw rw, void *userdata);

__attribute__((visibility("default"))) int qemu_plugin_version = 1;

#define GROUPS 8
#define MAX_RANGES 256

/* One vCPU (the boards are single-core), so plain counters are exact. */
static uint64_t insns, mark_addr = UINT64_MAX, stack_lo, stack_hi, lowest;
static uint64_t group_insns[GROUPS];
static struct { uint64_t lo, hi; int group; } ranges[MAX_RANGES];
static int n_ranges;
static FILE *out;
static const char *profile_path;

/* The per-address profile: a table of executed addresses and their counts. */
#define PROFILE_SLOTS (1 << 20)
static struct { uint64_t addr, count; } *profile;

static void on_profiled(unsigned int vcpu, void *userdata)
{
    uint64_t addr = (uint64_t)(uintptr_t)userdata;
    uint64_t slot = (addr >> 1) & (PROFILE_SLOTS - 1);
    while (profile[slot].count && profile[slot].addr != addr)
        slot = (slot + 1) & (PROFILE_SLOTS - 1);
    profile[slot].addr = addr;
    profile[slot].count++;
}

static void on_mark(unsigned int vcpu, void *userdata)
{
    fprintf(out, "mark %" PRIu64 " %" PRIu64, insns, lowest);
    for (int g = 0; g < GROUPS; g++)
        fprintf(out, " %" PRIu64, group_insns[g]);
    fputc('\n', out);
    lowest = stack_hi;
}

/* The counter of the group whose range holds `addr`, or 0. */
static uint64_t *group_of(uint64_t addr)
{
    for (int i = 0; i < n_ranges; i++)
        if (addr >= ranges[i].lo && addr < ranges[i].hi)
            return &group_insns[ranges[i].group];
    return 0;
}

static void on_store(unsigned int vcpu, qemu_plugin_meminfo_t info, uint64_t vaddr,
                     void *userdata)
{
    if (vaddr >= stack_lo && vaddr < lowest)
        lowest = vaddr;
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    for (size_t i = 0; i < qemu_plugin_tb_n_insns(tb); i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t addr = qemu_plugin_insn_vaddr(insn);
        uint64_t *group = group_of(addr);
        /* The mark callback runs before the instruction's own count is added. */
        if (addr == mark_addr)
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_mark, QEMU_PLUGIN_CB_NO_REGS, 0);
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &insns, 1);
        if (group)
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, group, 1);
        if (profile)
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_profiled, QEMU_PLUGIN_CB_NO_REGS,
                                                   (void *)(uintptr_t)addr);
        if (stack_hi > stack_lo)
            qemu_plugin_register_vcpu_mem_cb(insn, on_store, QEMU_PLUGIN_CB_NO_REGS,
                                             QEMU_PLUGIN_MEM_W, 0);
    }
}

static void on_quit(qemu_plugin_id_t id, void *userdata)
{
    fprintf(out, "total %" PRIu64 "\n", insns);
    fflush(out);
    if (profile) {
        FILE *f = fopen(profile_path, "w");
        for (uint64_t i = 0; f && i < PROFILE_SLOTS; i++)
            if (profile[i].count)
                fprintf(f, "%" PRIx64 " %" PRIu64 "\n", profile[i].addr, profile[i].count);
        if (f)
            fclose(f);
    }
}

__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id,
                                                               const qemu_info_t *info,
                                                               int argc, char **argv)
{
    out = stderr;
    for (int i = 0; i < argc; i++) {
        char *value = strchr(argv[i], '=');
        if (!value)
            return -1;
        *value++ = 0;
        if (!strcmp(argv[i], "mark"))
            mark_addr = strtoull(value, 0, 0) & ~1ull; /* drop the Thumb bit */
        else if (!strcmp(argv[i], "stack_lo"))
            stack_lo = strtoull(value, 0, 0);
        else if (!strcmp(argv[i], "stack_hi"))
            stack_hi = strtoull(value, 0, 0);
        else if (!strcmp(argv[i], "range")) {
            char *end;
            long group = strtol(value, &end, 0);
            if (n_ranges == MAX_RANGES || group < 0 || group >= GROUPS || *end != ':')
                return -1;
            ranges[n_ranges].group = (int)group;
            ranges[n_ranges].lo = strtoull(end + 1, &end, 0) & ~1ull;
            if (*end != ':')
                return -1;
            ranges[n_ranges].hi = strtoull(end + 1, &end, 0);
            if (*end)
                return -1;
            n_ranges++;
        } else if (!strcmp(argv[i], "profile")) {
            profile_path = value;
            if (!(profile = calloc(PROFILE_SLOTS, sizeof *profile)))
                return -1;
        } else if (!strcmp(argv[i], "out")) {
            if (!(out = fopen(value, "w")))
                return -1;
        } else
            return -1;
    }
    lowest = stack_hi;
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_quit, 0);
    return 0;
}
