"""The BIRD section of scripts/bench: what an anycastd pass costs with BIRD's prefixes, beside BIRD's own cost.

scripts/bench starts a BIRD through the BIRD lab's recipe (scripts/bird-lab: bird.conf as docs/bird.md tells an
operator, anycastd's file included, a BGP session to a GoBGP peer whose export filter passes anycastd's protocols),
so that every protocol anycastd adds is exported to a peer, as in production. For every size it generates a
configuration of `prefixes.bird` (services of 1 to 10 prefixes, IPv4 and IPv6, one check per service, the same
services as FRR's section), then, repeated, measures:

  announce  anycastd `apply` from nothing announced to all announced (the checks pass)
            floor: one `birdc configure` with anycastd's whole file already in place, then
            `birdc show route table all where proto ~ "anycastd_*" all` until it lists every route (anycastd reconfigures,
            then reads BIRD's tables until they hold what it wrote)
  no-op     anycastd `apply` when BIRD already matches
            floor: one `birdc show route table all where proto ~ "anycastd_*" all`, then one `curl` GET of Cabourotte's list
  withdraw  anycastd `apply` from all announced to nothing (every check fails)
            floor: one `birdc configure` with the file of no protocol in place, then the same `show route ... all`
            until it lists none (a `configure` that withdraws answers before BIRD has finished)

Wall and CPU time as FRR's section measures them (CPU: the process and the children it waited for: curl and birdc
for the floor, none for anycastd, which talks to BIRD's socket itself), anycastd's own peak RSS, the HTTP requests
the fake Cabourotte served, and BIRD's CPU during the measurement (its /proc ticks of 10 ms: all its threads, for
BIRD 3). birdc is the host's (Debian 12's 2.0.12) for every release: the control protocol is the same, and the
release's own through chroot(8) would add about 12 ms of process start-up to every floor command. Before each
measurement BIRD and the peer are left to go idle, so that no step pays for the exports of the previous one.
"""

import json
import os
import random
import re
import subprocess
import sys
import textwrap
import time

import measure
from measure import ms, traced, write

TICKS = os.sysconf("SC_CLK_TCK")
# The file anycastd writes when nothing is announced (src/bird/owned_file.rs, HEADER).
EMPTY_FILE = "# Written by anycastd: do not edit. One protocol per announced prefix; nothing else.\n"
OPERATIONS = ("no-op", "announce", "withdraw")


def fail(message):
    sys.exit(f"bench: BIRD: {message}")


class BirdBench:
    def __init__(self, args):
        self.args = args
        self.dir = args.dir
        self.birdc = args.birdc
        self.socket = os.path.join(args.bird_dir, "bird.ctl")
        self.file = os.path.join(args.bird_dir, "anycastd", "anycastd.conf")
        self.config = os.path.join(self.dir, "bird-config.toml")
        self.state = os.path.join(self.dir, "bird-state")
        self.results = os.path.join(self.dir, "results.json")
        self.cabourotte_log = os.path.join(self.dir, "cabourotte.log")
        os.makedirs(self.state, mode=0o700, exist_ok=True)
        self.bird_pids = pids_of(args.bird_netns)
        self.peer_pids = pids_of(args.peer_netns)
        if not self.bird_pids or not self.peer_pids:
            fail(f"BIRD (namespace {args.bird_netns}) or its peer (namespace {args.peer_netns}) does not run")
        self.services = []

    # ---- inputs ---------------------------------------------------------------------------------------------------

    def generate(self, size):
        """Writes the config for `size` prefixes and healthy results; returns the number of services. The services
        are FRR's section's (the same seed), each prefix in BIRD instead of FRR."""
        rng = random.Random(size)
        services, i = [], 0
        while i < size:
            count = min(rng.randint(1, 10), size - i)
            services.append(list(range(i, i + count)))
            i += count
        where = f'socket = "{self.socket}", file = "{self.file}"'
        lines = []
        for number, indices in enumerate(services):
            name = f"svc{number:05d}"
            lines.append(f"[services.{name}]")
            lines.append("prefixes.bird = [")
            lines.extend(f'    {{ prefix = "{address(index)}", {where} }},' for index in indices)
            lines.append("]")
            lines.append(f'checks.cabourotte = [{{ name = "{name}", url = "{self.args.cabourotte}" }}]')
            lines.append("")
        write(self.config, "\n".join(lines))
        self.services = [f"svc{number:05d}" for number in range(len(services))]
        self.set_health(True)
        return len(services)

    def set_health(self, success):
        """Every check passes (`success`) or fails; the fake Cabourotte reads the file at every request."""
        now = int(time.time())
        results = [
            {
                "name": name,
                "summary": "bench check",
                "success": success,
                "healthcheck-timestamp": now,
                "message": "success" if success else "failing on purpose (bench withdraw)",
                "message_labels": None,
                "duration": 1,
                "source": "configuration",
            }
            for name in self.services
        ]
        # Replaced by a rename: the fake Cabourotte must never read half a file.
        write(self.results + ".new", json.dumps(results, indent=2))
        os.replace(self.results + ".new", self.results)

    def install_file(self, text):
        """Puts anycastd's file in place (not measured), as anycastd does: a new file renamed over the old one."""
        write(self.file + ".bench", text)
        os.chmod(self.file + ".bench", 0o644)
        os.replace(self.file + ".bench", self.file)

    # ---- BIRD -----------------------------------------------------------------------------------------------------

    def birdc_argv(self, *command):
        return [self.birdc, "-s", self.socket, *command]

    def show_routes(self):
        return self.birdc_argv("show", "route", "table", "all", "where", "proto", "~", '"anycastd_*"', "all")

    def routes(self):
        """How many routes of anycastd's protocols BIRD's tables hold (`show route ... count`, summed per table)."""
        shown = subprocess.run(
            self.birdc_argv("show", "route", "table", "all", "where", "proto", "~", '"anycastd_*"', "count"),
            capture_output=True, text=True,
        )
        per_table = re.findall(r"^(\d+) of \d+ routes for \d+ networks in table ", shown.stdout, re.MULTILINE)
        total = re.search(r"^Total: (\d+) of ", shown.stdout, re.MULTILINE)
        if shown.returncode != 0 or not (per_table or total):
            fail(f"cannot count BIRD's routes: {shown.stdout}{shown.stderr}")
        return sum(map(int, per_table)) if per_table else int(total.group(1))

    def expect_routes(self, count, after, wait=0.0):
        """Fails unless BIRD holds `count` routes of anycastd's, within `wait` seconds (a `configure` that withdraws
        answers `Reconfiguration in progress` and finishes afterwards)."""
        deadline = time.monotonic() + wait
        while True:
            found = self.routes()
            if found == count:
                return
            if time.monotonic() >= deadline:
                fail(f"after {after}, BIRD has {found} routes of anycastd's protocols, expected {count}")
            time.sleep(0.05)

    def peer_routes(self):
        """How many routes the GoBGP peer holds, both families (the operator's own 198.51.100.0/24 included)."""
        total = 0
        for family in ("ipv4", "ipv6"):
            shown = subprocess.run(
                ["ip", "netns", "exec", self.args.peer_netns, "gobgp", "-u", "127.0.0.1", "-p", "50051",
                 "global", "rib", "summary", "-a", family],
                capture_output=True, text=True,
            )
            found = re.search(r"Destination: (\d+)", shown.stdout)
            if shown.returncode != 0 or not found:
                fail(f"cannot read the peer's {family} table: {shown.stdout}{shown.stderr}")
            total += int(found.group(1))
        return total

    def wait_for_peer(self, count, since, timeout=120):
        """When the peer held `count` routes of anycastd's (plus the operator's own one), polled every 50 ms: the
        seconds from `since` (monotonic) to the end of the look that found them, and how many looks it took (one
        look, two gobgp calls, takes tens of milliseconds: a first look that finds them says the peer had them
        when anycastd returned, or soon after)."""
        looks = 1
        while self.peer_routes() != count + 1:
            if time.monotonic() - since > timeout:
                fail(f"the peer has {self.peer_routes() - 1} of anycastd's routes after {timeout} s, expected {count}")
            time.sleep(0.05)
            looks += 1
        return time.monotonic() - since, looks

    def ticks(self, pids):
        total = 0
        for pid in pids:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total

    def settle(self):
        """Waits until BIRD and its peer used no CPU for 300 ms (at most 120 s: the peer takes 10,000 routes)."""
        pids = self.bird_pids + self.peer_pids
        deadline = time.monotonic() + 120
        last, quiet = self.ticks(pids), 0
        while quiet < 3:
            if time.monotonic() > deadline:
                fail("BIRD and its peer did not go idle within 120 s")
            time.sleep(0.1)
            now = self.ticks(pids)
            quiet = quiet + 1 if now == last else 0
            last = now

    # ---- measuring ------------------------------------------------------------------------------------------------

    def count_http(self):
        with open(self.cabourotte_log) as f:
            return sum(1 for line in f if '"GET /result' in line)

    def measure(self, *commands, own_memory=False):
        """Runs `commands` one after the other (each must succeed) and returns what they cost together, BIRD's CPU
        during them included. A command is an argv, or a `ReadUntil`: its argv (a `show route`) run again until its
        output lists the routes wanted, as anycastd reads BIRD's tables again until they hold what it wrote (a
        `configure` that withdraws answers before BIRD has finished); only the runs are timed, not the counting
        between them. With `own_memory` (one command), the peak RSS is the process's own."""
        self.settle()
        http_before, bird_before = self.count_http(), self.ticks(self.bird_pids)
        wall = cpu = 0.0
        rss = reads = 0
        output = os.path.join(self.dir, "stdout")
        for command in commands:
            until = command if isinstance(command, ReadUntil) else None
            argv = until.argv if until else command
            while True:
                with open(os.path.join(self.dir, "stderr"), "w+b") as stderr, open(output, "wb") as stdout:
                    started = time.perf_counter()
                    if own_memory:
                        status, usage, own = traced(argv, stderr)
                    else:
                        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr)
                        _, status, usage = os.wait4(child.pid, 0)
                        child.returncode, own = status, None
                    wall += time.perf_counter() - started
                    code = os.waitstatus_to_exitcode(status)
                    if code != 0:
                        stderr.seek(0)
                        fail(f"{' '.join(argv)} exited with {code}:\n{stderr.read().decode(errors='replace')[-3000:]}")
                cpu += usage.ru_utime + usage.ru_stime
                rss = max(rss, own if own is not None else usage.ru_maxrss)
                if not until:
                    break
                reads += 1
                if listed_routes(output) == until.routes:
                    break
                if reads >= 1000:
                    fail(f"{' '.join(argv)}: BIRD still does not hold {until.routes} routes after 1,000 reads")
        return {
            "wall": wall,
            "cpu": cpu,
            "bird_cpu": (self.ticks(self.bird_pids) - bird_before) / TICKS,
            "rss": rss / 1024,
            "http": self.count_http() - http_before,
            "reads": reads,
        }

    def anycastd(self):
        return [
            self.args.anycastd, "-c", self.config, "--state-dir", self.state, "--quiet",
            "--vtysh-timeout", "120s", "--http-timeout", "30s", "apply",
        ]

    def run(self, argv):
        done = subprocess.run(argv, capture_output=True, text=True)
        if done.returncode != 0:
            fail(f"{' '.join(argv)} exited with {done.returncode}:\n{done.stdout}{done.stderr}")

    def size(self, size, repeat):
        services = self.generate(size)
        self.install_file(EMPTY_FILE)
        self.run(self.birdc_argv("configure"))
        self.expect_routes(0, "emptying anycastd's file", wait=10)
        print(f"bench: BIRD, {size} prefixes in {services} services: warming up", file=sys.stderr, flush=True)
        started = time.monotonic()
        self.run(self.anycastd())
        returned = time.monotonic()
        announce_took = returned - started
        self.expect_routes(size, "anycastd apply")
        peer_after = self.wait_for_peer(size, returned)
        # The floor's announcement loads exactly what anycastd wrote.
        with open(self.file) as f:
            full_file = f.read()
        self.set_health(False)
        self.run(self.anycastd())
        self.expect_routes(0, "anycastd apply with every check failing")
        self.set_health(True)
        configure, show = self.birdc_argv("configure"), self.show_routes()
        cabourotte_get = ["curl", "-sf", "-o", "/dev/null", f"{self.args.cabourotte}/result"]
        samples = {}

        def add(operation, who, sample):
            samples.setdefault((operation, who), []).append(sample)

        for round_ in range(repeat):
            print(f"bench: BIRD, {size} prefixes: round {round_ + 1}/{repeat}", file=sys.stderr, flush=True)
            add("announce", "anycastd", self.measure(self.anycastd(), own_memory=True))
            self.expect_routes(size, "anycastd apply")
            add("no-op", "anycastd", self.measure(self.anycastd(), own_memory=True))
            add("no-op", "floor", self.measure(ReadUntil(show, size), cabourotte_get))
            self.set_health(False)
            add("withdraw", "anycastd", self.measure(self.anycastd(), own_memory=True))
            self.expect_routes(0, "anycastd apply with every check failing")
            self.set_health(True)
            self.install_file(full_file)
            add("announce", "floor", self.measure(configure, ReadUntil(show, size)))
            self.expect_routes(size, "birdc configure with anycastd's file")
            self.install_file(EMPTY_FILE)
            add("withdraw", "floor", self.measure(configure, ReadUntil(show, 0)))
            self.expect_routes(0, "birdc configure with the file of no protocol")
        summary = {key: summarize(values) for key, values in samples.items()}
        return services, summary, announce_took, peer_after


class ReadUntil:
    """A floor's read of BIRD's tables: `argv` (a `show route ... all`), run until it lists `routes` routes."""

    def __init__(self, argv, routes):
        self.argv, self.routes = argv, routes


def listed_routes(path):
    """How many routes a `birdc show route ... all` wrote to `path`: the lines that start with a prefix (each of
    anycastd's prefixes has one route; the attribute lines below it are indented)."""
    with open(path, encoding="utf-8", errors="replace") as f:
        return sum(1 for line in f if ROUTE_LINE.match(line))


ROUTE_LINE = re.compile(r"^[0-9a-fA-F:.]+/\d+\s")


def pids_of(netns):
    shown = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True)
    return [int(pid) for pid in shown.stdout.split()]


def address(index):
    """IPv4 and IPv6 in turn, as FRR's section, in ranges of their own."""
    if index % 2 == 0:
        n = index // 2
        return f"10.3.{n // 256 % 256}.{n % 256}"
    return f"2001:db8:3::{index // 2:x}"


def summarize(samples):
    """The median of every measure; the request count must not vary between rounds."""
    return measure.summarize(samples, ("wall", "cpu", "bird_cpu", "rss"), ("http", "reads"))


def table(results):
    rows = [
        "| prefixes | services | pass | wall anycastd | wall floor | ratio | CPU anycastd | CPU floor "
        "| CPU BIRD (anycastd) | CPU BIRD (floor) | peak RSS anycastd | HTTP requests | floor's reads |",
        "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, (services, summary, _, _) in results.items():
        for operation in OPERATIONS:
            a, f = summary[(operation, "anycastd")], summary[(operation, "floor")]
            rows.append(
                f"| {size:,} | {services:,} | {operation} | {ms(a['wall'])} | {ms(f['wall'])} "
                f"| {a['wall'] / f['wall']:.2f} | {ms(a['cpu'])} | {ms(f['cpu'])} "
                f"| {ms(a['bird_cpu'])} | {ms(f['bird_cpu'])} | {a['rss']:.1f} MiB | {a['http']} / {f['http']} "
                f"| {f['reads']} |"
            )
    return "\n".join(rows)


def version(bench):
    shown = subprocess.run(bench.birdc_argv("show", "status"), capture_output=True, text=True)
    found = re.search(r"^BIRD (\S+)", shown.stdout, re.MULTILINE)
    return found.group(1) if found else "(unknown)"


def run(args):
    """The BIRD section: its table and notes (markdown)."""
    bench = BirdBench(args)
    results = {}
    for size in sorted(int(s.replace("_", "").replace(",", "")) for s in args.sizes.split(",")):
        results[size] = bench.size(size, args.repeat)
    warm = ", ".join(
        f"{size:,}: {ms(took)}, then the peer {'at the first look, ' if looks == 1 else ''}{ms(peer)} later"
        for size, (_, _, took, (peer, looks)) in results.items()
    )
    debian_socket = "present: every pass also asked it" if os.path.exists("/run/bird/bird.ctl") else "absent"
    notes = (
        f"Medians of {args.repeat} rounds after a warm-up; `a / b` is anycastd / floor. CPU BIRD is BIRD's own CPU "
        "time during the measurement (10 ms ticks). The floors: announce and withdraw, one `birdc configure` (with "
        "anycastd's file, or the file of no protocol, already in place), then `birdc show route table all where proto ~ "
        '"anycastd_*" all` until it lists what the file holds (floor\'s reads: how many it took); no-op, that '
        "`show route` once, then one GET of Cabourotte's result list (curl). The withdraw is an `apply` with every "
        "check failing. The warm-up's announce (one pass, the first of the size), and when the peer had every route "
        f"after it returned (a look at the peer is two gobgp calls, some 40 ms): {warm}. Debian's BIRD socket "
        f"/run/bird/bird.ctl: {debian_socket}."
    )
    title = (
        f"BIRD {version(bench)} (--bird {args.bird_release}), with a BGP session to a GoBGP peer that receives every "
        "route anycastd's protocols export:"
    )
    return f"{wrap(title)}\n\n{table(results)}\n\n{wrap(notes)}\n"


def wrap(text):
    return textwrap.fill(text, width=117, break_long_words=False, break_on_hyphens=False)
