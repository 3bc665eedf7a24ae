/* What GRUB tells us, read out of the multiboot2 boot information into one plain structure.
 * multiboot.c is pure C (also built for the host unit tests). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BOOT_MEMORY_REGIONS_MAX 64
#define BOOT_MEMORY_AVAILABLE 1 /* the multiboot2 type for usable RAM */

enum framebuffer_kind { FRAMEBUFFER_EGA_TEXT, FRAMEBUFFER_RGB };

struct boot_memory_region {
    uint64_t base, length;
    uint32_t type;
};

struct boot_framebuffer {
    enum framebuffer_kind kind;
    uint64_t address;
    uint32_t pitch, width, height; /* in characters for EGA text */
    uint8_t bits_per_pixel;
    uint8_t red_shift, green_shift, blue_shift;
};

struct boot_info {
    char cmdline[256];
    size_t cmdline_given; /* the length GRUB passed: more than 255 means cmdline was cut */
    unsigned memory_count;
    struct boot_memory_region memory[BOOT_MEMORY_REGIONS_MAX];
    struct boot_framebuffer framebuffer;
    const void *rsdp; /* GRUB's copy of the ACPI RSDP, NULL when none was given */
    unsigned rsdp_revision;
};

/* Reads the tag list at info. Returns 0, or -1 with a one-line reason in error when the list is
 * malformed (a tag that runs past the end, a size too small for its type, no end tag). */
int multiboot_parse(const void *info, struct boot_info *out, char *error, size_t error_size);

/* Bytes of usable RAM in the memory map. */
uint64_t boot_memory_available(const struct boot_info *boot);
/* The lowest whole page of usable RAM below 1 MiB, above page 0 (the real-mode interrupt table
 * and the BIOS's data), that no other region overlaps: where a start-up IPI can send a CPU. Low,
 * not high: the top of conventional memory holds the EBDA, which some firmware calls usable.
 * 0 if there is none. */
uint64_t boot_low_page(const struct boot_info *boot);
