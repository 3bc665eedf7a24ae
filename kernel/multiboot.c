/* Multiboot2 boot-information parsing (the layout is in the Multiboot2 specification, section 3.6).
 * Everything is bounds-checked against total_size before it is read: a corrupted list must give a
 * clear error, not a read of whatever memory a bad size points at. */
#include <kernel/multiboot.h>
#include <kernel/printk.h>
#include <kernel/string.h>

#define LOW_MEMORY_END 0x100000 /* 1 MiB: a start-up IPI names a page below it */
#define LOW_PAGE_SIZE 0x1000

enum {
    TAG_END = 0,
    TAG_CMDLINE = 1,
    TAG_MEMORY_MAP = 6,
    TAG_FRAMEBUFFER = 8,
    TAG_ACPI_OLD = 14,
    TAG_ACPI_NEW = 15,
};

/* The smallest size a tag of each type can have, header included (every tag has its 8). */
static const uint8_t minimum_sizes[] = {
    [TAG_MEMORY_MAP] = 16, [TAG_FRAMEBUFFER] = 31, [TAG_ACPI_OLD] = 8 + 20, [TAG_ACPI_NEW] = 8 + 36,
};

static uint32_t read32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t read64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

static int parse_memory_map(const uint8_t *tag, uint32_t size, struct boot_info *out,
                            char *error, size_t error_size)
{
    uint32_t entry_size = read32(tag + 8);
    if (entry_size < 24 || entry_size % 8) {
        format(error, error_size, "multiboot2: memory map entry size %u is invalid", entry_size);
        return -1;
    }
    for (uint32_t offset = 16; offset + entry_size <= size; offset += entry_size) {
        if (out->memory_count == BOOT_MEMORY_REGIONS_MAX)
            break; /* keep the first ones; the count printed at boot says so */
        struct boot_memory_region *region = &out->memory[out->memory_count++];
        region->base = read64(tag + offset);
        region->length = read64(tag + offset + 8);
        region->type = read32(tag + offset + 16);
    }
    return 0;
}

static void parse_framebuffer(const uint8_t *tag, uint32_t size, struct boot_framebuffer *fb)
{
    uint8_t type = tag[29], bits_per_pixel = tag[28];
    if (type == 1 && size >= 38 && (bits_per_pixel == 32 || bits_per_pixel == 24)) {
        fb->kind = FRAMEBUFFER_RGB;
        fb->red_shift = tag[32];
        fb->green_shift = tag[34];
        fb->blue_shift = tag[36];
    } else if (type != 2) {
        return; /* indexed colour or an odd depth: keep the PC's text screen */
    }
    fb->address = read64(tag + 8);
    fb->pitch = read32(tag + 16);
    fb->width = read32(tag + 20);
    fb->height = read32(tag + 24);
    fb->bits_per_pixel = bits_per_pixel;
}

int multiboot_parse(const void *info, struct boot_info *out, char *error, size_t error_size)
{
    const uint8_t *base = info;
    memset(out, 0, sizeof *out);
    /* a BIOS machine's text screen, unless GRUB hands over another (a UEFI one has no text mode) */
    out->framebuffer = (struct boot_framebuffer){.kind = FRAMEBUFFER_EGA_TEXT, .address = 0xb8000,
                                                 .pitch = 160, .width = 80, .height = 25};
    uint32_t total = read32(base);
    if (total < 16 || total > (1u << 20)) {
        format(error, error_size, "multiboot2: boot information size %u is not plausible", total);
        return -1;
    }
    for (uint32_t offset = 8;;) {
        if (offset + 8 > total) {
            format(error, error_size,
                   "multiboot2: tag list ends at %u without an end tag (total %u)", offset, total);
            return -1;
        }
        const uint8_t *tag = base + offset;
        uint32_t type = read32(tag), size = read32(tag + 4);
        uint32_t minimum = type < sizeof minimum_sizes ? minimum_sizes[type] : 0;
        if (size < 8 || size < minimum || size > total - offset) {
            format(error, error_size,
                   "multiboot2: tag type %u at offset %u has bad size %u (total %u)",
                   type, offset, size, total);
            return -1;
        }
        switch (type) {
        case TAG_END:
            return 0;
        case TAG_CMDLINE: {
            out->cmdline_given = 0;
            while (out->cmdline_given < size - 8 && tag[8 + out->cmdline_given])
                out->cmdline_given++;
            size_t length = out->cmdline_given;
            if (length > sizeof out->cmdline - 1)
                length = sizeof out->cmdline - 1; /* cut; main.c says so at boot */
            memcpy(out->cmdline, tag + 8, length);
            out->cmdline[length] = '\0'; /* the tag holds a NUL-terminated string; be safe anyway */
            break;
        }
        case TAG_MEMORY_MAP:
            if (parse_memory_map(tag, size, out, error, error_size))
                return -1;
            break;
        case TAG_FRAMEBUFFER:
            parse_framebuffer(tag, size, &out->framebuffer);
            break;
        case TAG_ACPI_OLD:
        case TAG_ACPI_NEW:
            if (!out->rsdp || type == TAG_ACPI_NEW) { /* prefer the ACPI 2.0+ copy (XSDT) */
                out->rsdp = tag + 8;
                out->rsdp_revision = type == TAG_ACPI_NEW ? 2 : 0;
            }
            break;
        default:
            break; /* tags we do not use */
        }
        offset += (size + 7) & ~7u; /* tags start on 8-byte boundaries */
    }
}

uint64_t boot_memory_available(const struct boot_info *boot)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < boot->memory_count; i++)
        if (boot->memory[i].type == BOOT_MEMORY_AVAILABLE)
            total += boot->memory[i].length;
    return total;
}

uint64_t boot_low_page(const struct boot_info *boot)
{
    for (uint64_t page = LOW_PAGE_SIZE; page < LOW_MEMORY_END; page += LOW_PAGE_SIZE) {
        bool usable = false, reserved = false;
        for (unsigned i = 0; i < boot->memory_count; i++) {
            const struct boot_memory_region *r = &boot->memory[i];
            if (r->type != BOOT_MEMORY_AVAILABLE)
                reserved |= page < r->base + r->length && r->base < page + LOW_PAGE_SIZE;
            else if (r->base <= page && page + LOW_PAGE_SIZE <= r->base + r->length)
                usable = true;
        }
        if (usable && !reserved)
            return page;
    }
    return 0;
}
