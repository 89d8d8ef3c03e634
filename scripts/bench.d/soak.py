"""The soak of scripts/bench (`--soak SECONDS`): `anycastd run` at its shortest interval (100 ms) with its listener,
against the bench FRR, for SECONDS, while at the same time

  flapping      every 2 s one of 10 services fails (in turn), and is healed 1 s later; every other failure is also
                pushed (with the secret), the others only polled
  pushes        every second, a pushed success of a healthy service (changes nothing, exercises the listener)
  hostile       a bounded flood: 200 idle connections kept open (reopened when the listener evicts them), 4 clients
                dripping a body without the secret, 2 sending an endless header line, 1 sending Content-Length
                1099511627776 and 18446744073709551615 twice a second

and samples, every 5 s, anycastd's resident memory, peak memory, open descriptors, threads and CPU, and for every
failure the withdrawal latency: from the failing result (or the push) to the end of the vtysh batch that withdrew
it, read from the batch log of the bench's vtysh wrapper (ACD_BENCH_BATCH_LOG). They must stay flat, and every
withdrawal must end within an interval plus 100 ms.

ACD_BENCH_SOAK_FLOOD=0 runs the same without the hostile clients: the control, to tell what the flood costs from
what the machine does.
"""

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

from loop import PUSH_SECRET, TICKS, free_port, lab_bgpd_pid_file, push_secret_file

INTERVAL = 0.1
SERVICES = 10
SAMPLE_EVERY = 5
IDLE_CONNECTIONS = 200
DRIPPERS = 4
HEADER_FLOODS = 2


def prefix(number):
    return f"10.9.0.{number}/32"


def name(number):
    return f"svc{number:05d}"


class Soak:
    def __init__(self, bench, seconds):
        self.bench = bench
        self.seconds = seconds
        self.batches = os.path.join(bench.dir, "soak-batches")
        self.port = free_port()
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.counts = {"idle": 0, "dripping": 0, "endless head": 0, "huge length": 0, "pushes": 0,
                       "push errors": 0}
        self.statuses = {}
        self.base = int(time.time())
        self.health = {name(n): (True, self.base) for n in range(SERVICES)}
        self.flood = os.environ.get("ACD_BENCH_SOAK_FLOOD", "1") != "0"

    # ---- inputs ----------------------------------------------------------------------------------------------------

    def generate(self):
        pid_file = lab_bgpd_pid_file(self.bench.dir)
        lines = []
        for number in range(SERVICES):
            lines += [
                f"[services.{name(number)}]",
                f'prefixes.frrouting = [{{ prefix = "{prefix(number)}", vtysh = "{self.bench.wrapper}", '
                f'bgpd_pid_file = "{pid_file}" }}]',
                f'checks.cabourotte = [{{ name = "{name(number)}", url = "{self.bench.args.cabourotte}", '
                f"interval = 1 }}]",
                "",
            ]
        with open(self.bench.config, "w") as f:
            f.write("\n".join(lines))
        self.write_results()

    def write_results(self):
        results = [
            {"name": check, "summary": "soak", "success": ok, "healthcheck-timestamp": timestamp,
             "message": "success" if ok else "soak failure", "message_labels": None, "duration": 1,
             "source": "configuration"}
            for check, (ok, timestamp) in self.health.items()
        ]
        path = os.path.join(self.bench.dir, "results.json")
        with open(path + ".new", "w") as f:
            json.dump(results, f)
        os.replace(path + ".new", path)

    # ---- the legitimate client -------------------------------------------------------------------------------------

    def push(self, check, ok, timestamp):
        result = {"name": check, "summary": "soak", "success": ok, "healthcheck-timestamp": timestamp,
                  "message": "success" if ok else "pushed soak failure", "duration": 1, "source": "configuration"}
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {PUSH_SECRET}"}
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/push", data=json.dumps([result]).encode(),
                                         headers=headers, method="POST")
        try:
            urllib.request.urlopen(request, timeout=3).read()
            self.count("pushes")
            return True
        except (urllib.error.URLError, OSError):
            self.count("push errors")
            return False

    def pusher(self):
        """A pushed success of a healthy service every second: nothing changes, the listener works."""
        while not self.stop.wait(1):
            healthy = [check for check, (ok, _) in self.health.items() if ok]
            if healthy:
                check = healthy[int(time.time()) % len(healthy)]
                self.push(check, True, self.health[check][1])

    # ---- the hostile clients ---------------------------------------------------------------------------------------

    def count(self, what, by=1):
        with self.lock:
            self.counts[what] += by

    def connect(self, timeout=2):
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def idle(self):
        """Keeps IDLE_CONNECTIONS open, reopening those the listener closed, once a second."""
        held = []
        while not self.stop.is_set():
            alive = []
            for sock in held:
                try:
                    if sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b"":
                        sock.close()
                        continue
                except BlockingIOError:
                    alive.append(sock)
                    continue
                except OSError:
                    sock.close()
                    continue
                alive.append(sock)
            held = alive
            while len(held) < IDLE_CONNECTIONS and not self.stop.is_set():
                try:
                    held.append(self.connect())
                    self.count("idle")
                except OSError:
                    break
            self.stop.wait(1)
        for sock in held:
            sock.close()

    def dripper(self):
        """A push without the secret whose body comes a byte every 100 ms; again when cut off."""
        while not self.stop.is_set():
            try:
                with self.connect() as sock:
                    self.count("dripping")
                    sock.sendall(b"POST /push HTTP/1.1\r\nContent-Length: 100000\r\n\r\n")
                    while not self.stop.wait(0.1):
                        sock.sendall(b"[")
            except OSError:
                self.stop.wait(0.1)

    def endless_head(self):
        """A header line that never ends, 64 KiB every 50 ms (1.3 MB/s: a flood, but one that leaves this bench's
        own CPU to the measures); again 200 ms after it is cut off."""
        chunk = b"a" * 65536
        while not self.stop.is_set():
            try:
                with self.connect() as sock:
                    self.count("endless head")
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nX-Endless: ")
                    while not self.stop.wait(0.05):
                        sock.sendall(chunk)
            except OSError:
                pass
            self.stop.wait(0.2)

    def huge_length(self):
        """GET /healthz and POST /push (with the secret) claiming bodies of 2^64 - 1 and 2^40 bytes."""
        requests = [
            b"GET /healthz HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n",
            f"POST /push HTTP/1.1\r\nAuthorization: Bearer {PUSH_SECRET}\r\nContent-Length: 1099511627776\r\n\r\n"
            .encode(),
        ]
        while not self.stop.wait(0.5):
            for request in requests:
                status = "no answer"
                try:
                    with self.connect(timeout=3) as sock:
                        sock.sendall(request)
                        sock.shutdown(socket.SHUT_WR)
                        answer = sock.recv(64)
                        status = answer[9:12].decode(errors="replace") if answer.startswith(b"HTTP/1.1 ") else "?"
                except OSError as error:
                    status = type(error).__name__
                self.count("huge length")
                with self.lock:
                    self.statuses[status] = self.statuses.get(status, 0) + 1

    # ---- measures --------------------------------------------------------------------------------------------------

    def sample(self, pid):
        with open(f"/proc/{pid}/status") as f:
            status = dict(line.split(":", 1) for line in f if ":" in line)
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return {
            "t": time.monotonic(),
            "rss": int(status["VmRSS"].split()[0]),
            "hwm": int(status["VmHWM"].split()[0]),
            "threads": int(status["Threads"]),
            "fds": len(os.listdir(f"/proc/{pid}/fd")),
            "ticks": sum(int(fields[i]) for i in (11, 12, 13, 14)),
        }

    def withdrawal_end(self, started, network, timeout=5):
        """When the first vtysh batch that ended after `started` and withdrew `network` ended, or None."""
        deadline = time.monotonic() + timeout
        needle = f"no network {network} "
        while time.monotonic() < deadline:
            try:
                with open(self.batches) as f:
                    for line in f:
                        end, _, batch = line.partition(" ")
                        if float(end) > started and needle in batch + " ":
                            return float(end)
            except FileNotFoundError:
                pass
            time.sleep(0.01)
        return None

    def run(self):
        self.generate()
        secret = push_secret_file(self.bench.dir)
        argv = [self.bench.args.anycastd, "-c", self.bench.config, "--state-dir", self.bench.state, "--quiet", "run",
                "--interval", "100ms", "--listen", f"127.0.0.1:{self.port}", "--push-secret-file", secret]
        env = {**os.environ, "ACD_BENCH_BATCH_LOG": self.batches}
        log = open(os.path.join(self.bench.dir, "soak.stderr"), "w")
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
        threads = []
        try:
            deadline = time.monotonic() + 60
            while self.bench.networks() != SERVICES:
                if time.monotonic() > deadline or process.poll() is not None:
                    sys.exit(f"bench: soak: anycastd did not announce the {SERVICES} services")
                time.sleep(0.2)
            workers = [self.pusher]
            if self.flood:
                workers += [self.idle, self.huge_length] + [self.dripper] * DRIPPERS + [self.endless_head] * HEADER_FLOODS
            threads = [threading.Thread(target=worker, daemon=True) for worker in workers]
            for thread in threads:
                thread.start()
            samples, withdrawals = self.flap(process)
        finally:
            self.stop.set()
            for thread in threads:
                thread.join(timeout=5)
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return self.report(samples, withdrawals, process.returncode)

    def flap(self, process):
        """The flapping checks and the samples, for the soak's duration."""
        samples, withdrawals = [self.sample(process.pid)], []
        started = time.monotonic()
        next_sample = started + SAMPLE_EVERY
        cycle = 0
        while time.monotonic() - started < self.seconds:
            if process.poll() is not None:
                sys.exit(f"bench: soak: anycastd exited ({process.returncode}) after {time.monotonic() - started:.0f} s")
            number = cycle % SERVICES
            check, pushed = name(number), cycle % 2 == 1
            timestamp = self.base + 2 * cycle + 2
            began = time.time()
            self.health[check] = (False, timestamp)
            self.write_results()
            if pushed:
                self.push(check, False, timestamp)
            end = self.withdrawal_end(began, prefix(number))
            withdrawals.append({"t": time.monotonic() - started, "pushed": pushed,
                                "latency": None if end is None else end - began})
            time.sleep(max(0.0, began + 1 - time.time()))
            self.health[check] = (True, timestamp + 1)
            self.write_results()
            time.sleep(max(0.0, began + 2 - time.time()))
            if time.monotonic() >= next_sample:
                samples.append(self.sample(process.pid))
                next_sample += SAMPLE_EVERY
            cycle += 1
        samples.append(self.sample(process.pid))
        return samples, withdrawals

    def report(self, samples, withdrawals, exit_code):
        minutes = max(1, round(self.seconds / 60))
        span = self.seconds / minutes
        rows = []
        for minute in range(minutes):
            low, high = minute * span, (minute + 1) * span
            part = [s for s in samples if low <= s["t"] - samples[0]["t"] <= high]
            done = [w["latency"] for w in withdrawals if low <= w["t"] < high and w["latency"] is not None]
            if len(part) < 2:
                continue
            cpu = (part[-1]["ticks"] - part[0]["ticks"]) / TICKS / (part[-1]["t"] - part[0]["t"]) * 100
            rows.append(
                f"| {minute + 1} | {max(s['rss'] for s in part) / 1024:.1f} | {part[-1]['hwm'] / 1024:.1f} "
                f"| {min(s['fds'] for s in part)}–{max(s['fds'] for s in part)} "
                f"| {min(s['threads'] for s in part)}–{max(s['threads'] for s in part)} | {cpu:.1f} % "
                f"| {len(done)} | {ms(statistics.median(done)) if done else '-'} / {ms(max(done)) if done else '-'} |"
            )
        latencies = [w["latency"] for w in withdrawals if w["latency"] is not None]
        missing = sum(1 for w in withdrawals if w["latency"] is None)
        late = sum(1 for latency in latencies if latency > INTERVAL + 0.1)
        pushed = [w["latency"] for w in withdrawals if w["pushed"] and w["latency"] is not None]
        polled = [w["latency"] for w in withdrawals if not w["pushed"] and w["latency"] is not None]
        rss = [s["rss"] for s in samples]
        first, last = rss[: max(1, len(rss) // 10)], rss[-max(1, len(rss) // 10):]
        statuses = ", ".join(f"{status}: {count}" for status, count in sorted(self.statuses.items()))
        ok = missing == 0 and late == 0 and exit_code == 0 and self.counts["push errors"] == 0
        flood = "and a hostile flood at the same time" if self.flood else "without the hostile flood (the control)"
        return f"""Soak: `anycastd run --interval 100ms --listen` for {self.seconds} s, {SERVICES} services, one failing every 2 s
(every other one pushed), a pushed success every second, {flood}.

| minute | RSS max (MiB) | peak RSS (MiB) | open fds | threads | CPU | withdrawals | latency median / max |
|---:|---:|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

- RSS: {statistics.mean(first) / 1024:.1f} MiB over the first tenth, {statistics.mean(last) / 1024:.1f} MiB over the last tenth; peak {samples[-1]['hwm'] / 1024:.1f} MiB.
- Descriptors {min(s['fds'] for s in samples)} to {max(s['fds'] for s in samples)}, threads {min(s['threads'] for s in samples)} to {max(s['threads'] for s in samples)} (sampled every {SAMPLE_EVERY} s).
- Withdrawals: {len(withdrawals)} ({len(pushed)} pushed, {len(polled)} polled).
  Pushed: {stats(pushed)}. Polled: {stats(polled)}.
  {late} later than the interval plus 100 ms, {missing} not seen within 5 s.
- The flood: {self.counts['idle']} idle connections opened, {self.counts['dripping']} dripping bodies, {self.counts['endless head']} endless header lines, {self.counts['huge length']} huge Content-Lengths (answers: {statuses}).
- Legitimate pushes: {self.counts['pushes']} answered, {self.counts['push errors']} failed.
- anycastd exited {exit_code} on SIGTERM.
- {'met' if ok else 'MISSED'}: every withdrawal within the interval plus 100 ms, every push answered, a clean exit.
""", not ok


def ms(seconds):
    return f"{seconds * 1000:.0f} ms"


def stats(values):
    if not values:
        return "none"
    ordered = sorted(values)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"median {ms(statistics.median(values))}, p99 {ms(p99)}, max {ms(max(values))}"


def run(bench, seconds):
    print(f"bench: soak: {seconds} s of `run --interval 100ms` under a hostile flood", file=sys.stderr, flush=True)
    return Soak(bench, seconds).run()
