#include <kernel/multiboot.h>
#include <stdint.h>
#include <stdlib.h>
#include "unit.h"

/* Builds a boot-information block tag by tag, then copies it into a heap block of exactly its
 * size, so that AddressSanitizer catches any read past the end. */
static uint8_t building[4096];
static uint32_t used;

static void start(void) { memset(building, 0, sizeof building); used = 8; }
static uint8_t *tag(uint32_t type, uint32_t size)
{
    uint8_t *t = building + used;
    memcpy(t, &type, 4);
    memcpy(t + 4, &size, 4);
    used += (size + 7) & ~7u;
    return t;
}
static uint8_t *finish(uint32_t total)
{
    if (!total)
        total = used;
    memcpy(building, &total, 4);
    uint8_t *block = malloc(used);
    memcpy(block, building, used);
    return block;
}

static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

static void full_list(void)
{
    start();
    uint8_t *t = tag(1, 8 + 10);
    memcpy(t + 8, "test=boot", 10);
    t = tag(6, 16 + 2 * 24);
    put32(t + 8, 24);
    put64(t + 16, 0);
    put64(t + 24, 0x9fc00);
    put32(t + 32, 1);
    put64(t + 40, 0x100000);
    put64(t + 48, 0xfee0000);
    put32(t + 56, 1);
    t = tag(8, 38);
    put64(t + 8, 0x80000000);
    put32(t + 16, 4096);
    put32(t + 20, 1024);
    put32(t + 24, 768);
    t[28] = 32;
    t[29] = 1;
    t[32] = 16, t[34] = 8, t[36] = 0;
    tag(14, 8 + 20);
    tag(15, 8 + 36);
    tag(99, 12); /* a tag type we do not know is skipped */
    tag(0, 8);
    uint8_t *block = finish(0);
    struct boot_info info;
    char error[128] = "";
    CHECK(multiboot_parse(block, &info, error, sizeof error) == 0);
    CHECK_STRING(info.cmdline, "test=boot");
    CHECK(info.memory_count == 2);
    CHECK(info.memory[1].base == 0x100000 && info.memory[1].length == 0xfee0000);
    CHECK(boot_memory_available(&info) == 0x9fc00 + 0xfee0000);
    CHECK(info.framebuffer.kind == FRAMEBUFFER_RGB);
    CHECK(info.framebuffer.width == 1024 && info.framebuffer.height == 768 && info.framebuffer.pitch == 4096);
    CHECK(info.framebuffer.red_shift == 16 && info.framebuffer.blue_shift == 0);
    CHECK(info.rsdp == block + 8 + 24 + 64 + 40 + 32 + 8); /* the ACPI 2.0 copy wins */
    CHECK(info.rsdp_revision == 2);
    free(block);
}

static int parse_fails(uint8_t *block, const char *expected_words)
{
    struct boot_info info;
    char error[128] = "";
    int result = multiboot_parse(block, &info, error, sizeof error);
    free(block);
    if (result == -1 && !strstr(error, expected_words))
        printf("# error was \"%s\"\n", error);
    return result == -1 && strstr(error, expected_words);
}

static void malformed_lists(void)
{
    start();
    tag(1, 8 + 4000); /* runs far past the end */
    CHECK(parse_fails(finish(100), "bad size"));

    start();
    tag(1, 12); /* no end tag */
    CHECK(parse_fails(finish(0), "without an end tag"));

    start();
    tag(8, 20); /* too small for a framebuffer tag */
    tag(0, 8);
    CHECK(parse_fails(finish(0), "bad size"));

    start();
    uint8_t *t = tag(6, 16 + 24);
    put32(t + 8, 0); /* memory map entry size 0 would loop forever */
    tag(0, 8);
    CHECK(parse_fails(finish(0), "entry size"));

    start();
    tag(0, 8);
    CHECK(parse_fails(finish(0xffffffff), "not plausible"));

    start();
    tag(1, 4); /* a size smaller than the tag header */
    tag(0, 8);
    CHECK(parse_fails(finish(0), "bad size"));
}

static void long_cmdline_is_cut(void)
{
    start();
    uint8_t *t = tag(1, 8 + 600);
    memset(t + 8, 'a', 599);
    tag(0, 8);
    uint8_t *block = finish(0);
    struct boot_info info;
    char error[128];
    CHECK(multiboot_parse(block, &info, error, sizeof error) == 0);
    CHECK(strlen(info.cmdline) == sizeof info.cmdline - 1);
    CHECK(info.cmdline_given == 599); /* so the kernel can say it was cut */
    free(block);
}

static void test_low_page(void)
{
    struct boot_info b = {.memory_count = 3};
    b.memory[0] = (struct boot_memory_region){0, 0x9fc00, BOOT_MEMORY_AVAILABLE};
    b.memory[1] = (struct boot_memory_region){0x9fc00, 0x400, 2};
    b.memory[2] = (struct boot_memory_region){0x100000, 0x1000000, BOOT_MEMORY_AVAILABLE};
    CHECK(boot_low_page(&b) == 0x1000); /* low, far from the EBDA */
    b.memory[1] = (struct boot_memory_region){0x800, 0x1900, 2};
    CHECK(boot_low_page(&b) == 0x3000); /* a reserved region over 0x1000-0x20ff */
    b.memory[0] = (struct boot_memory_region){0x500, 0x1300, BOOT_MEMORY_AVAILABLE};
    CHECK(boot_low_page(&b) == 0); /* no whole page above page 0 below 1 MiB */
    b.memory[0] = (struct boot_memory_region){0x3800, 0x2000, BOOT_MEMORY_AVAILABLE};
    CHECK(boot_low_page(&b) == 0x4000); /* 0x3800-0x57ff: only 0x4000 is whole */
    b.memory[0].type = 2;
    b.memory[2] = (struct boot_memory_region){0xff800, 0x2000, BOOT_MEMORY_AVAILABLE};
    CHECK(boot_low_page(&b) == 0); /* its one whole page is at 1 MiB: out of a SIPI's reach */
}

/* No framebuffer tag, or one the console cannot draw on: the PC's text screen at 0xb8000. */
static void text_screen_fallback(void)
{
    struct boot_info info;
    char error[128];
    start();
    tag(0, 8);
    uint8_t *block = finish(0);
    CHECK(multiboot_parse(block, &info, error, sizeof error) == 0);
    free(block);
    CHECK(info.framebuffer.kind == FRAMEBUFFER_EGA_TEXT && info.framebuffer.address == 0xb8000);
    CHECK(info.framebuffer.width == 80 && info.framebuffer.height == 25);
    start();
    uint8_t *t = tag(8, 32);
    put64(t + 8, 0xfd000000);
    put32(t + 20, 640);
    t[28] = 8;
    t[29] = 0; /* indexed colour */
    tag(0, 8);
    block = finish(0);
    CHECK(multiboot_parse(block, &info, error, sizeof error) == 0);
    free(block);
    CHECK(info.framebuffer.kind == FRAMEBUFFER_EGA_TEXT && info.framebuffer.address == 0xb8000);
    CHECK(info.framebuffer.width == 80 && info.framebuffer.height == 25);
    start();
    t = tag(8, 32);
    put64(t + 8, 0xb8000);
    put32(t + 20, 132);
    put32(t + 24, 43);
    t[29] = 2; /* EGA text, as GRUB set it */
    tag(0, 8);
    block = finish(0);
    CHECK(multiboot_parse(block, &info, error, sizeof error) == 0);
    free(block);
    CHECK(info.framebuffer.kind == FRAMEBUFFER_EGA_TEXT);
    CHECK(info.framebuffer.width == 132 && info.framebuffer.height == 43);
}

const struct unit_test multiboot_tests[] = {
    {"multiboot: the start-up page: low, whole, usable, overlapping nothing", test_low_page},
    {"multiboot2: a full tag list", full_list},
    {"multiboot2: malformed tag lists are rejected with a reason", malformed_lists},
    {"multiboot2: an overlong command line is cut, not overrun", long_cmdline_is_cut},
    {"multiboot2: no usable framebuffer: the text screen", text_screen_fallback},
    {0},
};
