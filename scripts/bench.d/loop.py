"""The loop section of scripts/bench: what `anycastd run` costs when nothing happens, and how fast it withdraws.

  idle          CPU of the process and its children (utime + stime + cutime + cstime from /proc, in clock ticks of
                10 ms) over `--idle` seconds of `run --interval 1` with every service healthy and announced, at 10
                and 1,000 services of one prefix each; the original anycastd (pip anycastd==0.1.12, in a venv) beside
                it at 10 services
  push          from the answer to a pushed failure (POST /push) to the end of the vtysh batch that withdraws it
  poll          from writing a failing result into the fake Cabourotte's file to the end of that batch

The end of a batch is written by the bench's vtysh wrapper (ACD_BENCH_BATCH_ENDS) when the `vtysh -f` it ran exits.
"""

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

TICKS = os.sysconf("SC_CLK_TCK")
ORIGINAL = "anycastd==0.1.12"
# The pushes' shared secret: `run --listen` requires one on every address.
PUSH_SECRET = "bench-s3cr3t"


def push_secret_file(directory):
    """Writes the pushes' secret (mode 0600) into `directory`; its path."""
    path = os.path.join(directory, "push-secret")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(PUSH_SECRET + "\n")
    return path


def ticks(pid):
    """CPU ticks of `pid` and of the children it waited for."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]



def lab_bgpd_pid_file(bench_dir):
    """bgpd's pid file, from the lab's settings in `bench_dir`: `run` watches it to trust what it read of FRR."""
    with open(os.path.join(bench_dir, "lab.env")) as f:
        for line in f:
            if line.startswith("BGPD_PID_FILE="):
                return line.split("=", 1)[1].strip().strip("'")
    sys.exit("bench: no BGPD_PID_FILE in the lab's lab.env")

class Loop:
    def __init__(self, bench, idle_seconds, original_venv):
        self.bench = bench
        self.idle_seconds = idle_seconds
        self.venv = original_venv
        self.ends = os.path.join(bench.dir, "batch-ends")

    # ---- inputs ----------------------------------------------------------------------------------------------------

    def bgpd_pid_file(self):
        return lab_bgpd_pid_file(self.bench.dir)

    def generate(self, services, original=False):
        """`services` services of one IPv4 prefix each in the default VRF, one check each at interval 1 s. The
        original anycastd knows no `bgpd_pid_file` key and refuses a configuration that has one."""
        watch = "" if original else f', bgpd_pid_file = "{self.bgpd_pid_file()}"'
        lines = []
        for number in range(services):
            name = f"svc{number:05d}"
            lines += [
                f"[services.{name}]",
                f'prefixes.frrouting = [{{ prefix = "10.9.{number // 256}.{number % 256}", '
                f'vtysh = "{self.bench.wrapper}"{watch} }}]',
                f'checks.cabourotte = [{{ name = "{name}", url = "{self.bench.args.cabourotte}", interval = 1 }}]',
                "",
            ]
        with open(self.bench.config, "w") as f:
            f.write("\n".join(lines))
        self.set_results({f"svc{n:05d}": True for n in range(services)})
        return [f"svc{n:05d}" for n in range(services)]

    def set_results(self, health, timestamp=None):
        timestamp = timestamp or int(time.time())
        results = [
            {"name": name, "summary": "bench", "success": ok, "healthcheck-timestamp": timestamp,
             "message": "success" if ok else "bench failure", "message_labels": None, "duration": 1,
             "source": "configuration"}
            for name, ok in health.items()
        ]
        path = os.path.join(self.bench.dir, "results.json")
        with open(path + ".new", "w") as f:
            json.dump(results, f)
        os.replace(path + ".new", path)

    # ---- processes -------------------------------------------------------------------------------------------------

    def start(self, argv):
        env = {**os.environ, "ACD_BENCH_BATCH_ENDS": self.ends}
        log = open(os.path.join(self.bench.dir, "loop.stderr"), "w")
        # stdout too: the original anycastd logs there.
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)

    def stop(self, process):
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def wait_networks(self, count, what, timeout=120, process=None):
        deadline = time.monotonic() + timeout
        while self.bench.networks() != count:
            exited = process is not None and process.poll() is not None
            if time.monotonic() > deadline or exited:
                with open(os.path.join(self.bench.dir, "loop.stderr")) as f:
                    tail = f.read()[-2000:]
                sys.exit(f"bench: {what}: FRR has {self.bench.networks()} networks, expected {count}\n{tail}")
            time.sleep(0.2)

    def anycastd_run(self, *extra):
        return [self.bench.args.anycastd, "-c", self.bench.config, "--state-dir", self.bench.state, "--quiet",
                "run", "--interval", "1", *extra]

    def original(self):
        """The original anycastd in a venv (installed once, kept for the next run)."""
        binary = os.path.join(self.venv, "bin", "anycastd")
        if not os.path.exists(binary):
            print(f"bench: installing the original {ORIGINAL} into {self.venv}", file=sys.stderr, flush=True)
            subprocess.run([sys.executable, "-m", "venv", self.venv], check=True)
            subprocess.run([os.path.join(self.venv, "bin", "pip"), "install", "-q", ORIGINAL], check=True)
        return [binary, "run", "--config", self.bench.config]

    # ---- measures ---------------------------------------------------------------------------------------------------

    def idle(self, argv, services, original=False):
        """CPU ticks per 30 s, vtysh calls and HTTP requests of `argv` idling with every service announced."""
        self.generate(services, original)
        process = self.start(argv)
        try:
            self.wait_networks(services, f"{argv[0]} announcing {services} services", process=process)
            time.sleep(3)
            before = (ticks(process.pid), self.bench.count_vtysh(), self.bench.count_http())
            time.sleep(self.idle_seconds)
            if process.poll() is not None:
                with open(os.path.join(self.bench.dir, "loop.stderr")) as f:
                    tail = f.read()[-2000:]
                print(f"bench: {argv[0]} exited ({process.returncode}) during the idle measure:\n{tail}",
                      file=sys.stderr)
                return None
            after = (ticks(process.pid), self.bench.count_vtysh(), self.bench.count_http())
        finally:
            self.stop(process)
        left = 0
        if original:
            # The original does not always withdraw everything on SIGTERM (it ends its services one by one, and the
            # process is gone before the last ones are): say so, and withdraw the rest for the next measure.
            left = self.left_announced()
        else:
            self.wait_networks(0, f"{argv[0]} withdrawing on SIGTERM")
        per_30s = (after[0] - before[0]) * 30 / self.idle_seconds
        return {
            "ticks": per_30s,
            "core": per_30s / TICKS / 30 * 100,
            "vtysh": after[1] - before[1],
            "http": after[2] - before[2],
            "left": left,
        }

    def left_announced(self, settle=5):
        """How many networks a program left announced after it exited; removed with our withdraw-all and resume."""
        deadline = time.monotonic() + settle
        while self.bench.networks() and time.monotonic() < deadline:
            time.sleep(0.2)
        left = self.bench.networks()
        if left:
            common = [self.bench.args.anycastd, "-c", self.bench.config, "--state-dir", self.bench.state, "--quiet"]
            subprocess.run([*common, "withdraw-all"], check=True, stderr=subprocess.DEVNULL)
            subprocess.run([*common, "resume"], check=True, stdout=subprocess.DEVNULL)
            self.wait_networks(0, "withdrawing what the original left")
        return left

    def batch_end_after(self, started, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(self.ends) as f:
                    ends = [float(line) for line in f if line.strip()]
            except FileNotFoundError:
                ends = []
            later = [end for end in ends if end > started]
            if later:
                return min(later)
            time.sleep(0.005)
        sys.exit("bench: no vtysh batch ended within 10 s")

    def latencies(self, samples):
        """Push and poll withdrawal latencies, `samples` of each, at interval 1 s."""
        names = self.generate(samples * 2)
        port = free_port()
        secret = push_secret_file(self.bench.dir)
        process = self.start(self.anycastd_run("--listen", f"127.0.0.1:{port}", "--push-secret-file", secret))
        push, poll = [], []
        try:
            self.wait_networks(len(names), "anycastd announcing for the latency measures")
            time.sleep(2)
            health = {name: True for name in names}
            for name in names[:samples]:
                result = {"name": name, "summary": "bench", "success": False, "message": "pushed failure",
                          "healthcheck-timestamp": int(time.time()) + 1, "duration": 1, "source": "configuration"}
                headers = {"Content-Type": "application/json", "Authorization": f"Bearer {PUSH_SECRET}"}
                request = urllib.request.Request(f"http://127.0.0.1:{port}/push", data=json.dumps([result]).encode(),
                                                 headers=headers, method="POST")
                urllib.request.urlopen(request, timeout=3).read()
                answered = time.time()
                push.append(self.batch_end_after(answered) - answered)
                time.sleep(0.3)
            for name in names[samples:]:
                health[name] = False
                time.sleep(0.37)  # not in step with the 1 s interval
                self.set_results(health, int(time.time()) + 2)
                written = time.time()
                poll.append(self.batch_end_after(written) - written)
        finally:
            self.stop(process)
        return push, poll


def stats(values):
    return f"median {statistics.median(values) * 1000:.0f} ms, max {max(values) * 1000:.0f} ms"


def run(bench, idle_seconds, original_venv, samples=20, with_original=True):
    """The loop section's report and whether a target was missed."""
    loop = Loop(bench, idle_seconds, original_venv)
    rows, idle = [], {}
    for services in (10, 1000):
        print(f"bench: loop: anycastd run idle at {services} services ({idle_seconds} s)", file=sys.stderr, flush=True)
        idle[("anycastd", services)] = loop.idle(loop.anycastd_run(), services)
    if with_original:
        print(f"bench: loop: the original anycastd idle at 10 services ({idle_seconds} s)", file=sys.stderr, flush=True)
        try:
            idle[("original", 10)] = loop.idle(loop.original(), 10, original=True)
        except (subprocess.CalledProcessError, OSError, SystemExit) as error:
            print(f"bench: loop: the original could not be measured: {error}", file=sys.stderr)
            idle[("original", 10)] = None
    for (program, services), measure in idle.items():
        if measure is None:
            rows.append(f"| {program} | {services:,} | (exited) | | | |")
            continue
        left = f" (left {measure['left']} of {services} networks announced on SIGTERM)" if measure["left"] else ""
        rows.append(f"| {program}{left} | {services:,} | {measure['ticks']:.1f} | {measure['core']:.2f} % "
                    f"| {measure['vtysh']} | {measure['http']} |")
    print("bench: loop: withdrawal latencies", file=sys.stderr, flush=True)
    push, poll = loop.latencies(samples)
    ours, original = idle[("anycastd", 10)], idle.get(("original", 10))
    lines, missed = [], False

    def verdict(ok, text):
        nonlocal missed
        missed |= not ok
        lines.append(f"- {'met' if ok else 'MISSED'}: {text}")

    verdict(ours["ticks"] <= 6, f"idle at 10 services: {ours['ticks']:.1f} ticks per 30 s ≤ 6 (0.2 % of a core)")
    if original:
        factor = original["ticks"] / max(ours["ticks"], 0.1)
        verdict(factor >= 60, f"idle: {factor:.0f}× below the original (≥ 60×)")
    verdict(statistics.median(push) <= 0.05 and max(push) <= 0.1, f"push to withdrawal: {stats(push)} (≤ 50 / 100 ms)")
    verdict(max(poll) <= 1.1, f"poll to withdrawal: {stats(poll)} (≤ interval + 100 ms = 1,100 ms)")
    report = f"""Loop mode, `run --interval 1`, every service healthy and announced, over {idle_seconds} s (CPU of the process and
the children it waited for, in ticks of {1000 // TICKS} ms):

| program | services | CPU ticks / 30 s | of a core | vtysh calls | HTTP requests |
|---|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

Withdrawal latency, {samples} samples each: a pushed failure (from the POST's answer to the end of the vtysh batch):
{stats(push)}; a polled failure (from the result file's change to the end of the batch): {stats(poll)}.

Loop targets:
{chr(10).join(lines)}
"""
    return report, missed
