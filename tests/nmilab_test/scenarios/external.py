"""NMIs from outside (QMP inject-nmi) at the prompt, during boot and in storms, and the
watchdog: a lockup report must mean a lockup."""
import re

from ..actions import external_nmi_at_prompt, nmi_at_boot, storm_while_typing, type_lines
from ..judge import UNKNOWN_NMI
from ..runner import run_scenario
from ..scenario import Scenario


def tsc_mhz(log):
    """The TSC rate the kernel measured at boot, in MHz (None if it printed none)."""
    m = re.search(r"timer: TSC (\d+) MHz", UNKNOWN_NMI.sub("", log))
    return int(m.group(1)) if m else None


def same_tsc_as_a_calm_boot(log):
    """Scenario check: the TSC rate measured under an NMI storm is the one a calm boot measures
    (within 15%; under TCG the guest's TSC is the host's)."""
    stormy = tsc_mhz(log)
    _, _, _, calm_log = run_scenario(Scenario("calm", "test=boot", "bios"))
    calm = tsc_mhz(calm_log)
    if not stormy or not calm:
        return "no 'timer: TSC ... MHz' line"
    if abs(stormy - calm) > calm * 0.15:
        return f"TSC {stormy} MHz under the NMI storm, {calm} MHz in a calm boot"
    return None


SCENARIOS = [
    Scenario(
        "unknown-nmi",
        "watchdog=off",
        "bios",
        expect="poweroff",
        serial_input=True,
        action=external_nmi_at_prompt(["stats", "poweroff"]),
        must=[
            r"NMI: unknown NMI \(#1\) at [0-9a-f]+: no handler claimed it and port 0x61 shows no "
            r"reason",
            r"unknown 1; watchdog off",
        ],
    ),
    # An NMI while the watchdog tries its source (as it starts the PIT) is not the
    # watchdog's: no lockup report, and the watchdog still starts.
    Scenario(
        "watchdog-source-check-nmi",
        "test=boot watchdog=2",
        "bios",
        action=nmi_at_boot("pit_start_periodic"),
        must=[r"NMI: unknown NMI \(#1\)", r"watchdog: hard-lockup detector on, threshold 2 s"],
        must_not=[r"hard LOCKUP"],
    ),
    # NMIs during boot: before the NMI entry is installed (counted, reported once), and a storm
    # during timer calibration (the measured TSC rate must not change).
    Scenario(
        "early-nmi",
        "test=boot",
        "bios",
        action=nmi_at_boot("paging_init"),
        must=[
            r"nmi: 1 NMI\(s\) arrived during boot, before the NMI handlers were ready: counted, "
            r"ignored"
        ],
    ),
    Scenario(
        "calibration-storm",
        "test=boot",
        "bios",
        action=nmi_at_boot("timer_init", storm_until=r"timer: TSC"),
        must=[r"NMI: unknown NMI"],
        check=same_tsc_as_a_calm_boot,
    ),
    # A lockup report must mean a lockup: self-NMIs and an external storm with the watchdog on
    # report nothing; the real lockup afterwards is reported.
    Scenario(
        "watchdog-storm",
        "",
        "bios",
        expect="hang",
        serial_input=True,
        timeout=60,
        action=storm_while_typing(["nmi 50000", "nmi 100000", "stats", "lockup"]),
        done=r"show_state: \d+ tasks dumped",
        must=[
            r"self-NMIs sent 50000 claimed 50000",
            r"self-NMIs sent 100000 claimed 100000",
            r"NMI: unknown NMI",
            r"locking up CPU 0[\s\S]*hard LOCKUP on CPU 0",
            r"command_lockup\+0x",
        ],
        must_not=[r"hard LOCKUP[\s\S]*locking up CPU 0"],
    ),
    Scenario(
        "shell-lockup",
        "",
        "bios",
        expect="hang",
        serial_input=True,
        action=type_lines(["watchdog 1", "lockup"]),
        done=r"show_state: \d+ tasks dumped",
        must=[
            r"locking up CPU 0",
            r"hard LOCKUP on CPU 0",
            r"command_lockup\+0x",
            r"show_state: 2 tasks dumped",
        ],
    ),
]
