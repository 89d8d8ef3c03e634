"""The exec-check section of scripts/bench (issue 28): what `checks.exec` adds to a pass that changes nothing, on the
bench's real FRR. Stdlib only.

One service with one prefix, announced; the no-op `apply` is measured with its Cabourotte check only, then with N
exec checks (default 100) added to it: `/bin/true`, a `/bin/sh` script (a shell plugin's floor), and a script that
sleeps 50 ms (a plugin that waits on the network; anycastd runs 8 at a time, so N of them take about N/8 x 50 ms).
Wall time, CPU time of anycastd and the commands it waited for (wait4), and vtysh calls, as the FRR section.
"""

import os
import statistics

from measure import ms, write


def run(bench, count, repeat):
    """The section's markdown."""
    script = os.path.join(bench.dir, "exec-check.sh")
    write(script, "echo 'OK - bench'\nexit 0\n")
    sleeper = os.path.join(bench.dir, "exec-sleep.sh")
    write(sleeper, "sleep 0.05\necho 'OK - slept'\nexit 0\n")
    kinds = [
        ("none (Cabourotte only)", None),
        (f"{count} x /bin/true", '["/bin/true"]'),
        (f"{count} x /bin/sh script", f'["/bin/sh", "{script}"]'),
        (f"{count} x /bin/sh script sleeping 50 ms", f'["/bin/sh", "{sleeper}"]'),
    ]
    rows = []
    for label, command in kinds:
        lines = [
            "[services.svc00000]",
            f'prefixes.frrouting = [{{ prefix = "10.1.0.1", vtysh = "{bench.wrapper}" }}]',
            f'checks.cabourotte = [{{ name = "svc00000", url = "{bench.args.cabourotte}" }}]',
        ]
        if command:
            lines.append("checks.exec = [")
            lines += [f'  {{ name = "c{i:03d}", command = {command} }},' for i in range(count)]
            lines.append("]")
        write(bench.config, "\n".join(lines) + "\n")
        write(os.path.join(bench.dir, "results.json"), '[{"name": "svc00000", "success": true, "message": "ok"}]')
        bench.run(bench.anycastd("apply"))
        bench.run(bench.anycastd("apply"))
        samples = [bench.measure(bench.anycastd("apply")) for _ in range(repeat)]
        wall = statistics.median(sample["wall"] for sample in samples)
        cpu = statistics.median(sample["cpu"] for sample in samples)
        vtysh = statistics.median(sample["vtysh"] for sample in samples)
        rows.append(f"| {label} | {ms(wall)} | {ms(cpu)} | {vtysh:g} |")
        bench.run(bench.anycastd("withdraw-all"))
        bench.run(bench.anycastd("resume"))
    return (
        f"### Exec checks: a no-op apply with {count} of them (issue 28)\n\n"
        "| exec checks | wall | CPU (with the commands) | vtysh calls |\n| --- | --- | --- | --- |\n"
        + "\n".join(rows)
        + f"\n\nMedians of {repeat} runs. A timer pass runs every command; `anycastd run` runs each at its own "
        "interval.\n"
    )
