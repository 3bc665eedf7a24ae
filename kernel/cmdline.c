/* Kernel command-line parsing. A bad word never stops the boot: it is reported and skipped, so a
 * typo in GRUB's editor gives a clear line on the console instead of a machine that won't start. */
#include <kernel/cmdline.h>
#include <kernel/printk.h>
#include <kernel/string.h>

/* Every option the kernel understands, with what it takes (shown when a value is missing). */
static const struct {
    const char *key;
    const char *values;
} known_options[] = {
    {"test", "a scenario name, or all"},
    {"demo", "pf-in-nmi|int3-in-nmi|watchdog-dump|vmalloc|kprobe"},
    {"nmi", "nested|naive|naive-raw|latch|ret"},
    {"watchdog", "off|seconds"},
    {"console_delay", "microseconds per byte on serial"},
    {"smp", "the most CPUs to start, 1 or more"},
    {"nosmp", ""}, /* a flag: no value */
};

void cmdline_parse(struct cmdline *cl, const char *line)
{
    cl->count = 0;
    while (line && *line) {
        while (*line == ' ' || *line == '\t')
            line++;
        if (!*line)
            break;
        const char *word = line;
        while (*line && *line != ' ' && *line != '\t')
            line++;
        size_t word_length = (size_t)(line - word);
        size_t key_length = 0;
        while (key_length < word_length && word[key_length] != '=')
            key_length++;

        char key[CMDLINE_KEY_SIZE]; /* a key too long for it is no known one: shown cut */
        size_t kept = key_length < sizeof key ? key_length : sizeof key - 1;
        memcpy(key, word, kept);
        key[kept] = '\0';
        const char *values = NULL; /* what the option takes; NULL for no known option */
        for (size_t i = 0; i < sizeof known_options / sizeof known_options[0]; i++)
            if (key_length < sizeof key && !strcmp(known_options[i].key, key))
                values = known_options[i].values;
        size_t value_length = key_length < word_length ? word_length - key_length - 1 : 0;
        if (!values)
            printk("cmdline: '%s' is not a known option (ignored)\n", key);
        else if (!values[0] && key_length < word_length)
            printk("cmdline: option '%s' takes no value\n", key);
        else if (values[0] && key_length == word_length)
            printk("cmdline: option '%s' needs a value: %s=<%s>\n", key, key, values);
        else if (values[0] && value_length == 0)
            printk("cmdline: option '%s' has an empty value: %s=<%s>\n", key, key, values);
        else if (value_length >= CMDLINE_VALUE_SIZE)
            printk("cmdline: '%s' has a value that is too long (ignored)\n", key);
        else if (cl->count == CMDLINE_MAX_OPTIONS)
            printk("cmdline: '%s' is one option too many (ignored)\n", key);
        else {
            struct cmdline_option *option = &cl->options[cl->count++];
            memcpy(option->key, key, key_length + 1);
            memcpy(option->value, word + key_length + 1, value_length);
            option->value[value_length] = '\0';
        }
    }
}

const char *cmdline_get(const struct cmdline *cl, const char *key)
{
    for (int i = cl->count - 1; i >= 0; i--) /* the last one given wins, as users expect */
        if (!strcmp(cl->options[i].key, key))
            return cl->options[i].value;
    return NULL;
}

int parse_number(const char *text, uint64_t limit, uint64_t *value)
{
    unsigned base = 10;
    if (text && text[0] == '0' && text[1] == 'x') {
        base = 16;
        text += 2;
    }
    uint64_t n = 0;
    if (!text || !*text)
        return -1;
    for (; *text; text++) {
        unsigned digit = 0; /* its place in "0123456789abcdef"; base when it is not a digit */
        while (digit < base && "0123456789abcdef"[digit] != *text)
            digit++;
        if (digit == base || n > (limit - digit) / base)
            return -1;
        n = n * base + digit;
    }
    *value = n;
    return 0;
}
