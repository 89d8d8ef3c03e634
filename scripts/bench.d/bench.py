#!/usr/bin/env python3
"""The measuring half of scripts/bench (which sets up FRR and the fake Cabourotte, then runs this). Stdlib only.

For every size it generates a config (services of 1 to 10 prefixes, IPv4 and IPv6, default VRF and VRF blue, one
check per service, all healthy), then, repeated, measures against the real FRR:

  apply         anycastd `apply` from nothing announced to all announced
                floor: `vtysh -f /proc/self/fd/0` with exactly the lines of anycastd's batch (captured from its vtysh) on stdin
  no-op         anycastd `apply` when FRR already matches
                floor: `vtysh -c "show running-config"`, then one `curl` GET of Cabourotte's result list
  withdraw-all  anycastd `withdraw-all` from all announced to nothing (then `resume`, not measured)
                floor: the same with anycastd's `no network` batch

Each measurement is one process tree started from here: wall time, CPU time (user + system of the process and of
the children it waited for: the vtysh calls, not FRR's daemons; as wait4(2) reports it), peak RSS (anycastd's own,
read through ptrace(2) at its exit; for the floor, the largest process of the tree: vtysh), vtysh calls counted by
the vtysh wrapper, HTTP requests counted in the fake Cabourotte's log. Before each measurement FRR's daemons are
left to go idle, so no step pays for the previous one.

With --bird-dir, BIRD's section (bird.py) follows FRR's, the same way against a real BIRD; --no-frr runs it alone.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import time

import bird
import exec_checks
import loop
import soak
import measure
from measure import ms, traced, write

V4_PER_VRF = {"default": "10.1", "blue": "10.2"}
V6_PER_VRF = {"default": "2001:db8:1", "blue": "2001:db8:2"}


def fail(message):
    sys.exit(f"bench: {message}")


class Bench:
    def __init__(self, args):
        self.args = args
        self.dir = args.dir
        self.wrapper = os.path.join(self.dir, "bench-vtysh")
        self.config = os.path.join(self.dir, "config.toml")
        self.state = os.path.join(self.dir, "state")
        self.vtysh_calls = os.path.join(self.dir, "vtysh-calls")
        self.cabourotte_log = os.path.join(self.dir, "cabourotte.log")
        # Every process of the lab's FRR namespace is one of FRR's daemons (the bench lab has no peer).
        pids = subprocess.run(["ip", "netns", "pids", args.netns], capture_output=True, text=True, check=True)
        self.daemon_pids = [int(pid) for pid in pids.stdout.split()]
        if not self.daemon_pids:
            fail(f"no FRR daemon runs in the network namespace {args.netns}")

    # ---- inputs ---------------------------------------------------------------------------------------------------

    def generate(self, size):
        """Writes the config and Cabourotte's results for `size` prefixes; returns the number of services."""
        rng = random.Random(size)
        services, i = [], 0
        while i < size:
            count = min(rng.randint(1, 10), size - i)
            services.append(list(range(i, i + count)))
            i += count
        lines = []
        for number, indices in enumerate(services):
            name = f"svc{number:05d}"
            lines.append(f"[services.{name}]")
            lines.append("prefixes.frrouting = [")
            for index in indices:
                vrf = "default" if index // 2 % 2 == 0 else "blue"
                vrf_key = "" if vrf == "default" else f', vrf = "{vrf}"'
                lines.append(f'    {{ prefix = "{address(index, vrf)}"{vrf_key}, vtysh = "{self.wrapper}" }},')
            lines.append("]")
            lines.append(f'checks.cabourotte = [{{ name = "{name}", url = "{self.args.cabourotte}" }}]')
            lines.append("")
        write(self.config, "\n".join(lines))
        now = int(time.time())
        results = [
            {
                "name": f"svc{number:05d}",
                "summary": "bench check",
                "success": True,
                "healthcheck-timestamp": now,
                "message": "success",
                "message_labels": None,
                "duration": 1,
                "source": "configuration",
            }
            for number in range(len(services))
        ]
        write(os.path.join(self.dir, "results.json"), json.dumps(results, indent=2))
        return len(services)

    # ---- FRR ------------------------------------------------------------------------------------------------------

    def vtysh(self, *arguments):
        """vtysh against the bench FRR, not through the counting wrapper (for checks, not measured)."""
        return subprocess.run(
            [os.path.join(self.dir, "frr-vtysh"), *arguments], capture_output=True, text=True
        )

    def networks(self):
        """How many `network` statements FRR has."""
        shown = self.vtysh("-c", "show running-config")
        if shown.returncode != 0:
            fail(f"cannot read FRR's running config: {shown.stdout}{shown.stderr}")
        return sum(1 for line in shown.stdout.splitlines() if line.strip().startswith("network "))

    def expect_networks(self, count, after):
        found = self.networks()
        if found != count:
            fail(f"after {after}, FRR has {found} network statements, expected {count}")

    def frr_ticks(self):
        total = 0
        for pid in self.daemon_pids:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total

    def settle(self):
        """Waits until FRR's daemons used no CPU for 300 ms (at most 60 s)."""
        deadline = time.monotonic() + 60
        last, quiet = self.frr_ticks(), 0
        while quiet < 3:
            if time.monotonic() > deadline:
                fail("FRR's daemons did not go idle within 60 s")
            time.sleep(0.1)
            now = self.frr_ticks()
            quiet = quiet + 1 if now == last else 0
            last = now

    # ---- measuring ------------------------------------------------------------------------------------------------

    def count_vtysh(self):
        try:
            with open(self.vtysh_calls) as f:
                return sum(1 for _ in f)
        except FileNotFoundError:
            return 0

    def count_http(self):
        with open(self.cabourotte_log) as f:
            return sum(1 for line in f if '"GET /result' in line)

    def measure(self, *commands, own_memory=False, stdin=None):
        """Runs `commands` one after the other (each must succeed) and returns what they cost together. With
        `own_memory` (one command), the peak RSS is the process's own, without its children's. `stdin` is a file
        given to every command on its standard input (anycastd's batches reach vtysh that way)."""
        self.settle()
        vtysh_before, http_before = self.count_vtysh(), self.count_http()
        wall = cpu = 0.0
        rss = 0
        for argv in commands:
            with open(os.path.join(self.dir, "stderr"), "w+b") as stderr:
                started = time.perf_counter()
                if own_memory:
                    status, usage, own = traced(argv, stderr)
                else:
                    source = open(stdin, "rb") if stdin else subprocess.DEVNULL
                    child = subprocess.Popen(argv, stdin=source, stdout=subprocess.DEVNULL, stderr=stderr)
                    _, status, usage = os.wait4(child.pid, 0)
                    child.returncode, own = status, None
                    if stdin:
                        source.close()
                wall += time.perf_counter() - started
                code = os.waitstatus_to_exitcode(status)
                if code != 0:
                    stderr.seek(0)
                    fail(f"{' '.join(argv)} exited with {code}:\n{stderr.read().decode(errors='replace')[-3000:]}")
            cpu += usage.ru_utime + usage.ru_stime
            rss = max(rss, own if own is not None else usage.ru_maxrss)
        return {
            "wall": wall,
            "cpu": cpu,
            "rss": rss / 1024,
            "vtysh": self.count_vtysh() - vtysh_before,
            "http": self.count_http() - http_before,
        }

    def anycastd(self, command):
        return [
            self.args.anycastd, "-c", self.config, "--state-dir", self.state, "--quiet",
            "--vtysh-timeout", "120s", "--http-timeout", "30s", command,
        ]

    def run(self, argv, env=None):
        done = subprocess.run(argv, capture_output=True, text=True, env=env)
        if done.returncode != 0:
            fail(f"{' '.join(argv)} exited with {done.returncode}:\n{done.stdout}{done.stderr}")

    def capture(self, command, tag):
        """Runs anycastd `command` with the wrapper keeping the batch it feeds to vtysh; returns it as a vtysh -f file."""
        prefix = os.path.join(self.dir, f"capture-{tag}")
        self.run(self.anycastd(command), env={**os.environ, "ACD_BENCH_CAPTURE": prefix})
        batches = []
        for name in sorted(os.listdir(self.dir)):
            path = os.path.join(self.dir, name)
            if name.startswith(f"capture-{tag}.") and name.endswith(".batch"):
                with open(path) as f:
                    batches.append(f.read().splitlines())
                os.remove(path)
        if len(batches) != 1:
            fail(f"expected one configuring vtysh call from anycastd {command}, found {len(batches)}")
        lines = batches[0]
        floor_file = os.path.join(self.dir, f"floor-{tag}.conf")
        write(floor_file, "\n".join(lines) + "\n")
        return floor_file

    def instructions(self, argv):
        """Runs `argv` (anycastd) under callgrind and returns the instructions it executed itself (its children, vtysh,
        are not counted): the same count for the same binary and inputs, whatever else the machine does."""
        # ACD_BENCH_CALLGRIND_OUT keeps the profile (callgrind_annotate reads it).
        out = os.environ.get("ACD_BENCH_CALLGRIND_OUT") or os.path.join(self.dir, "callgrind.out")
        valgrind = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--trace-children=no"]
        self.run(valgrind + argv)
        with open(out) as f:
            for line in f:
                if line.startswith("totals:") or line.startswith("summary:"):
                    return int(line.split()[1])
        fail("callgrind wrote no total")

    def size(self, size, repeat):
        services = self.generate(size)
        self.expect_networks(0, "the previous size")
        print(f"bench: {size} prefixes in {services} services: warming up", file=sys.stderr, flush=True)
        apply_file = self.capture("apply", "apply")
        self.expect_networks(size, "anycastd apply")
        self.run(self.anycastd("apply"))
        withdraw_file = self.capture("withdraw-all", "withdraw")
        self.run(self.anycastd("resume"))
        self.expect_networks(0, "anycastd withdraw-all")
        vtysh = [self.wrapper]
        floor_read = vtysh + ["-c", "show running-config"]
        floor_get = ["curl", "-sf", "-o", "/dev/null", f"{self.args.cabourotte}/result"]
        bgpd_read = vtysh + ["-d", "bgpd", "-c", "show running-config"]
        samples = {}

        def add(operation, who, sample):
            samples.setdefault((operation, who), []).append(sample)

        if self.args.callgrind:
            self.run(self.anycastd("apply"))
            count = self.instructions(self.anycastd("apply"))
            samples[("no-op", "instructions")] = [{"wall": 0, "cpu": 0, "rss": 0, "vtysh": 0, "http": 0, "ir": count}]
            self.run(self.anycastd("withdraw-all"))
            self.run(self.anycastd("resume"))
        for round_ in range(repeat):
            print(f"bench: {size} prefixes: round {round_ + 1}/{repeat}", file=sys.stderr, flush=True)
            add("apply", "anycastd", self.measure(self.anycastd("apply"), own_memory=True))
            self.expect_networks(size, "anycastd apply")
            add("no-op", "anycastd", self.measure(self.anycastd("apply"), own_memory=True))
            add("no-op", "floor", self.measure(floor_read, floor_get))
            add("no-op", "bgpd read", self.measure(bgpd_read))
            add("withdraw-all", "anycastd", self.measure(self.anycastd("withdraw-all"), own_memory=True))
            self.run(self.anycastd("resume"))
            self.expect_networks(0, "anycastd withdraw-all")
            add("apply", "floor", self.measure(vtysh + ["-d", "bgpd", "-f", "/proc/self/fd/0"], stdin=apply_file))
            self.expect_networks(size, f"vtysh -f /proc/self/fd/0 < {apply_file}")
            add("withdraw-all", "floor", self.measure(vtysh + ["-d", "bgpd", "-f", "/proc/self/fd/0"], stdin=withdraw_file))
            self.expect_networks(0, f"vtysh -f /proc/self/fd/0 < {withdraw_file}")
        instructions = samples.pop(("no-op", "instructions"), None)
        summary = {key: summarize(values) for key, values in samples.items()}
        if instructions:
            summary[("no-op", "instructions")] = instructions[0]["ir"]
        return services, summary


def address(index, vrf):
    if index % 2 == 0:
        n = index // 2
        return f"{V4_PER_VRF[vrf]}.{n // 256 % 256}.{n % 256}"
    return f"{V6_PER_VRF[vrf]}::{index // 2:x}"


def summarize(samples):
    """The median of every measure; call counts must not vary between rounds."""
    return measure.summarize(samples, ("wall", "cpu", "rss"), ("vtysh", "http"))


def table(results):
    rows = [
        "| prefixes | services | pass | wall anycastd | wall floor | ratio | CPU anycastd | CPU floor "
        "| peak RSS anycastd | peak RSS floor | vtysh calls | HTTP requests |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, (services, summary) in results.items():
        for operation in ("no-op", "apply", "withdraw-all"):
            a, f = summary[(operation, "anycastd")], summary[(operation, "floor")]
            rows.append(
                f"| {size:,} | {services:,} | {operation} | {ms(a['wall'])} | {ms(f['wall'])} "
                f"| {a['wall'] / f['wall']:.2f} | {ms(a['cpu'])} | {ms(f['cpu'])} "
                f"| {a['rss']:.1f} MiB | {f['rss']:.1f} MiB | {a['vtysh']} / {f['vtysh']} | {a['http']} / {f['http']} |"
            )
    return "\n".join(rows)


def targets(results):
    """One line per target of issue 6: met or missed, with the number."""
    lines, missed = [], False
    largest = max(results)

    def verdict(ok, text):
        nonlocal missed
        missed |= not ok
        lines.append(f"- {'met' if ok else 'MISSED'}: {text}")

    calls = [(size, summary[("no-op", "anycastd")]) for size, (_, summary) in results.items()]
    verdict(
        all(s["vtysh"] == 1 for _, s in calls),
        "no-op pass: 1 vtysh call at every size (" + ", ".join(f"{n:,}: {s['vtysh']}" for n, s in calls) + ")",
    )
    verdict(
        all(s["http"] == 1 for _, s in calls),
        "no-op pass: 1 HTTP request at every size (" + ", ".join(f"{n:,}: {s['http']}" for n, s in calls) + ")",
    )
    summary = results[largest][1]
    for operation, limit in (("no-op", 1.5), ("apply", 1.3), ("withdraw-all", 1.3)):
        ratio = summary[(operation, "anycastd")]["wall"] / summary[(operation, "floor")]["wall"]
        verdict(ratio <= limit, f"{operation} at {largest:,} prefixes: ratio {ratio:.2f} ≤ {limit}")
    peak = {size: max(s[(op, "anycastd")]["rss"] for op in ("no-op", "apply", "withdraw-all"))
            for size, (_, s) in results.items()}
    verdict(peak[largest] < 50, f"peak RSS at {largest:,} prefixes: {peak[largest]:.1f} MiB < 50 MiB")
    sizes = sorted(peak)
    growth = ", ".join(
        f"{a:,}→{b:,}: {(peak[b] - peak[a]) * 1024 * 1024 / (b - a):,.0f} B/prefix" for a, b in zip(sizes, sizes[1:])
    )
    lines.append(f"- memory growth (peak RSS, largest of the three passes): {growth}")
    return "\n".join(lines), missed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--anycastd", required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--netns", default="acd-bench-frr", help="the network namespace of the bench FRR")
    parser.add_argument("--cabourotte", required=True, help="the fake Cabourotte's base URL")
    parser.add_argument("--sizes", default="10,100,1000,10000", help="comma-separated prefix counts")
    parser.add_argument("--repeat", type=int, default=5, help="measurements per pass and size (the median is shown)")
    parser.add_argument("--out", help="also write the report (markdown) to this file")
    parser.add_argument("--idle", type=int, default=60, help="seconds of each idle measure of the loop section")
    parser.add_argument("--no-loop", action="store_true", help="skip the loop section")
    parser.add_argument("--exec-checks", type=int, default=100,
                        help="exec checks of the exec section (issue 28); 0 skips it")
    parser.add_argument("--callgrind", action="store_true",
                        help="also count the instructions of one no-op apply per size (valgrind's callgrind)")
    parser.add_argument("--original-venv", default="/var/cache/anycastd-bench/original-venv",
                        help="where the original anycastd is installed for the loop section")
    parser.add_argument("--no-original", action="store_true", help="the loop section without the original anycastd")
    parser.add_argument("--soak", type=int, metavar="SECONDS",
                        help="only the soak: run under a hostile flood for SECONDS (see scripts/bench.d/soak.py)")
    parser.add_argument("--no-frr", action="store_true", help="skip FRR's section (and the loop): BIRD's alone")
    parser.add_argument("--bird-dir", help="the BIRD lab's directory (scripts/bird-lab up): also run BIRD's section")
    parser.add_argument("--bird-release", default="2.0", help="BIRD's release, as scripts/bird-lab names it")
    parser.add_argument("--bird-netns", default="acd-bench-b", help="the network namespace of the bench BIRD")
    parser.add_argument("--peer-netns", default="acd-bench-p", help="the network namespace of BIRD's GoBGP peer")
    parser.add_argument("--birdc", default="/usr/sbin/birdc", help="the birdc of BIRD's floor")
    args = parser.parse_args()

    load_before = os.getloadavg()
    bench = None if args.no_frr else Bench(args)
    started = time.monotonic()
    if args.soak:
        report, missed = soak.run(bench, args.soak)
        report += f"\n{time.monotonic() - started:.0f} s, anycastd {args.anycastd}, FRR {frr_version(bench)}, "
        report += f"{os.cpu_count()} CPUs.\n"
        print(report)
        if args.out:
            write(args.out, report)
        if missed:
            print("bench: a soak target was missed", file=sys.stderr)
        return
    report, missed = "", False
    if bench:
        report, missed = frr_section(bench, args)
    if bench and args.exec_checks:
        report += exec_checks.run(bench, args.exec_checks, args.repeat) + "\n"
    if args.bird_dir:
        report += bird.run(args) + "\n"
    if bench and not args.no_loop:
        loop_report, loop_missed = loop.run(bench, args.idle, args.original_venv, with_original=not args.no_original)
        report += loop_report + "\n"
        missed |= loop_missed
    frr_text = f", FRR {frr_version(bench)}" if bench else ""
    load_after = os.getloadavg()
    report += (
        f"{time.monotonic() - started:.0f} s, anycastd {args.anycastd}{frr_text}, {os.cpu_count()} CPUs, load average "
        f"(1, 5, 15 min) {' '.join(f'{x:.2f}' for x in load_before)} at the start, "
        f"{' '.join(f'{x:.2f}' for x in load_after)} at the end.\n"
    )
    print(report)
    if args.out:
        write(args.out, report)
    if missed:
        print("bench: a target was missed (see Targets)", file=sys.stderr)


def frr_section(bench, args):
    """FRR's passes: the table, its notes and the targets of issue 6 (markdown), and whether one was missed."""
    results = {}
    reads = {}
    for size in sorted(int(s.replace("_", "").replace(",", "")) for s in args.sizes.split(",")):
        services, summary = bench.size(size, args.repeat)
        results[size] = (services, summary)
        reads[size] = summary[("no-op", "bgpd read")]["wall"]
    checks, missed = targets(results)
    reads_text = ", ".join(f"{size:,}: {ms(wall)}" for size, wall in reads.items())
    counted = [(size, summary.get(("no-op", "instructions"))) for size, (_, summary) in results.items()]
    instructions_text = "".join(
        f"\nNo-op apply, instructions of anycastd itself (callgrind): "
        + ", ".join(f"{size:,}: {count / 1e6:.1f}M" for size, count in counted if count)
        for _ in [0] if any(count for _, count in counted)
    )
    report = f"""{table(results)}

Medians of {args.repeat} rounds after a warm-up; `a / b` in the last two columns is anycastd / floor.
The floor of the no-op pass is `vtysh -c "show running-config"` plus one GET of Cabourotte's result list (curl);
anycastd reads `vtysh -d bgpd -c "show running-config"` instead, which alone took: {reads_text}.{instructions_text}

Targets:
{checks}

"""
    return report, missed


def frr_version(bench):
    shown = bench.vtysh("-c", "show version")
    for line in shown.stdout.splitlines():
        if line.startswith("FRRouting "):
            return line.split()[1]
    return "(unknown)"


if __name__ == "__main__":
    main()
