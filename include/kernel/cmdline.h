/* The kernel command line: space-separated key=value options, checked against a list of known
 * keys. cmdline.c is pure C (also built for the host unit tests, which catch what it printks). */
#pragma once
#include <stdint.h>

#define CMDLINE_MAX_OPTIONS 16
#define CMDLINE_KEY_SIZE 24
#define CMDLINE_VALUE_SIZE 64

struct cmdline_option {
    char key[CMDLINE_KEY_SIZE];
    char value[CMDLINE_VALUE_SIZE];
};

struct cmdline {
    int count;
    struct cmdline_option options[CMDLINE_MAX_OPTIONS];
};

/* Parses line into cl. Each problem (unknown key, missing value, too long, too many) is printed
 * in one line and that word is skipped. */
void cmdline_parse(struct cmdline *cl, const char *line);

/* A decimal number, or hexadecimal after 0x, from 0 to limit: 0, or -1 when text is not one. */
int parse_number(const char *text, uint64_t limit, uint64_t *value);

/* The value of key, or NULL when it was not given. */
const char *cmdline_get(const struct cmdline *cl, const char *key);

/* The command line the kernel booted with (kernel/main.c fills it). */
extern struct cmdline kernel_cmdline;
