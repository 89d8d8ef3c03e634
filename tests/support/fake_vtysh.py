#!/usr/bin/env python3
"""A stand-in for FRR's vtysh that keeps a running config in a file and changes it the way FRR 8.4 does.

Usage: fake_vtysh.py --state DIR [-d DAEMON] [-c COMMANDS]...   (each -c may hold several newline-separated commands)
       fake_vtysh.py --state DIR -f FILE                      (a configuration file, e.g. /proc/self/fd/0)

DIR holds:
  running-config  the configuration, in FRR 8.x layout (read and rewritten)
  calls.log       one JSON line per invocation: the -c arguments (appended)
  fail-on         optional: a command line; running it fails like an FRR error
  hang            optional: when present, every call sleeps for a long time (to test timeouts)
  slow            optional: a number of seconds every call sleeps before doing its work (slow passes)
  rib             optional: the routes in FRR's RIB, one `VRF PREFIX` per line (`default` for the default VRF);
                  without it, every `show ip[v6] route ... json` finds a route
  missing-vrfs    optional: VRF names, one per line, that zebra does not know (no kernel VRF device): a `show
                  ip[v6] route vrf NAME ...` answers `% VRF NAME not found`, with success, as FRR does

Behaviours copied from FRR (see frr-lab.md): `router bgp ASN` creates an instance when none exists for that VRF, and
fails with "BGP is already running; AS is X" when the default instance has another ASN; host bits of a network are
masked; a prefix of the wrong family is an unknown command; `network X route-map R` adds the network or sets its
route-map (FRR checks no route-map's existence); `no network X` for an absent network fails; a `-c`
batch stops at the first failing command (errors on stdout and stderr, exit code 1), while `-f` goes on with the
next lines (the error on stdout, the failing line on stderr, exit code 13).
"""
import ipaddress
import json
import os
import sys
import time


def main(argv):
    if len(argv) < 2 or argv[0] != "--state":
        print("usage: fake_vtysh.py --state DIR [-c CMD]...", file=sys.stderr)
        return 2
    state, args = argv[1], argv[2:]
    commands, from_file = [], False
    if len(args) == 4 and args[:2] == ["-d", "bgpd"] and args[2] == "-f":
        args = args[2:]
    if len(args) == 2 and args[0] == "-f":
        with open(args[1]) as f:
            commands, from_file, args = f.read().splitlines(), True, []
    while args:
        if args[0] == "-d" and len(args) >= 2:
            args = args[2:]
            continue
        if args[0] != "-c" or len(args) < 2:
            print(f"% unsupported arguments: {args}", file=sys.stderr)
            return 2
        commands.extend(line for line in args[1].split("\n"))
        args = args[2:]
    with open(os.path.join(state, "calls.log"), "a") as log:
        log.write(json.dumps(commands) + "\n")
    if os.path.exists(os.path.join(state, "hang")):
        time.sleep(60)
    slow = read_optional(os.path.join(state, "slow"))
    if slow:
        time.sleep(float(slow))
    path = os.path.join(state, "running-config")
    with open(path) as f:
        config = parse(f.read())
    fail_on = read_optional(os.path.join(state, "fail-on"))
    rib = read_optional(os.path.join(state, "rib"))
    missing_vrfs = set((read_optional(os.path.join(state, "missing-vrfs")) or "").split())
    session = Session(config, fail_on, None if rib is None else set(rib.splitlines()), missing_vrfs)
    if from_file:
        session.mode = "config"
    for number, command in enumerate(commands, start=1):
        error = session.run(command.strip())
        if error and from_file:
            print(error)
            print(f"line {number}: Failure to communicate[13] to bgpd, line: {command.strip()}", file=sys.stderr)
        elif error:
            print(error)
            print(error, file=sys.stderr)
            break
    if session.changed:
        # Replaced at once, as FRR's own state changes: a reader never sees half a running config.
        with open(path + ".new", "w") as f:
            f.write(render(config))
        os.replace(path + ".new", path)
    if session.failed:
        return 13 if from_file else 1
    return 0


def read_optional(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        return None


def parse(text):
    """The config as: header lines, instances [{asn, vrf, lines, families {name: [network lines]}}], trailer lines."""
    config = {"header": [], "instances": [], "trailer": []}
    current, family, closed = None, None, False
    for line in text.splitlines():
        if line in ("Building configuration...", "Current configuration:", ""):
            continue
        if not line.startswith(" "):
            words = line.split()
            if words[:2] == ["router", "bgp"]:
                vrf = words[4] if len(words) >= 5 and words[3] == "vrf" else None
                current = {"asn": words[2], "vrf": vrf, "lines": [], "families": {}}
                config["instances"].append(current)
                family = None
                continue
            if current is not None and line in ("exit", "!"):
                current, closed = None, line == "exit"
                continue
            if closed and line == "!":
                closed = False
                continue
            current, closed = None, False
            (config["trailer"] if config["instances"] else config["header"]).append(line)
            continue
        if current is None:
            config["trailer" if config["instances"] else "header"].append(line)
            continue
        words = line.split()
        if words[0] == "address-family":
            family = " ".join(words[1:])
            current["families"].setdefault(family, [])
        elif words[0] == "exit-address-family":
            family = None
        elif family is not None:
            current["families"][family].append(line.strip())
        elif line.strip() != "!":
            current["lines"].append(line.strip())
    return config


def sort_key(line):
    words = line.split()
    if words[0] == "network":
        net = ipaddress.ip_network(words[1], strict=False)
        return (0, net.version, net.network_address, net.prefixlen)
    return (1, 0, line, 0)


def render(config):
    out = ["Building configuration...", "", "Current configuration:"]
    out += config["header"]
    for instance in config["instances"]:
        vrf = f" vrf {instance['vrf']}" if instance["vrf"] else ""
        out.append(f"router bgp {instance['asn']}{vrf}")
        out += [f" {line}" for line in instance["lines"]]
        for family, lines in instance["families"].items():
            out.append(" !")
            out.append(f" address-family {family}")
            out += [f"  {line}" for line in sorted(lines, key=sort_key)]
            out.append(" exit-address-family")
        out.append("exit")
        out.append("!")
    trailer = [line for line in config["trailer"] if line != "end"]
    out += trailer
    out.append("end")
    return "\n".join(out) + "\n"


class Session:
    def __init__(self, config, fail_on, rib, missing_vrfs):
        self.config, self.fail_on, self.rib, self.missing_vrfs = config, fail_on, rib, missing_vrfs
        self.mode, self.instance, self.family = "enable", None, None
        self.changed, self.failed = False, False

    def fail(self, message):
        self.failed = True
        return message

    def run(self, command):
        if not command:
            return None
        if self.fail_on is not None and command == self.fail_on:
            return self.fail(f"% Injected failure on: {command}")
        words = command.split()
        if command == "show running-config":
            sys.stdout.write(render(self.config))
            return None
        if words[0] == "show" and words[1] in ("ip", "ipv6") and words[2] == "route" and words[-1] == "json":
            return self.show_route(words[3:-1])
        if command == "show bgp vrf all neighbors json":
            return self.show_neighbors()
        if words[:2] == ["show", "bgp"] and words[-2:] == ["advertised-routes", "json"]:
            return self.show_advertised(words[2:-2])
        if command in ("configure terminal", "conf t"):
            self.mode = "config"
            return None
        if self.mode != "config":
            return self.fail(f"% Unknown command: {command}")
        if words[:2] == ["router", "bgp"] and len(words) in (3, 5):
            return self.router_bgp(words)
        if words[0] == "address-family" and self.instance is not None:
            self.family = " ".join(words[1:])
            return None
        if command == "exit-address-family":
            self.family = None
            return None
        if command == "exit":
            if self.family is not None:
                self.family = None
            else:
                self.instance = None
            return None
        if command == "end":
            self.mode, self.instance, self.family = "enable", None, None
            return None
        if words[0] == "network" and len(words) == 2:
            return self.network(words[1], add=True)
        if words[0] == "network" and len(words) == 4 and words[2] == "route-map":
            return self.network(words[1], add=True, route_map=words[3])
        if words[:2] == ["no", "network"] and len(words) == 3:
            return self.network(words[2], add=False)
        return self.fail(f"% Unknown command: {command}")

    def show_route(self, words):
        vrf, prefix = ("default", words[0]) if len(words) == 1 else (words[1], words[2])
        if vrf in self.missing_vrfs:
            print(f"% VRF {vrf} not found")
            return None
        if self.rib is None or f"{vrf} {prefix}" in self.rib:
            print(json.dumps({prefix: [{"prefix": prefix, "protocol": "connected", "selected": True}]}, indent=2))
        else:
            print("{}")
        return None

    def neighbors(self, instance):
        """The neighbors of an instance: each `neighbor X remote-as ...` line; every session is established."""
        return [line.split()[1] for line in instance["lines"] if line.split()[:1] == ["neighbor"] and "remote-as" in line]

    def show_neighbors(self):
        answer = {}
        for instance in self.config["instances"]:
            vrf = instance["vrf"] or "default"
            entry = {"vrfId": 0, "vrfName": vrf}
            for name in self.neighbors(instance):
                families = {"ipv4Unicast": {"sentPrefixCounter": 0}, "ipv6Unicast": {"sentPrefixCounter": 0}}
                entry[name] = {"bgpState": "Established", "addressFamilyInfo": families}
            answer[vrf] = entry
        print(json.dumps(answer, indent=2))
        return None

    def show_advertised(self, words):
        """`[vrf V] ipv4|ipv6 unicast neighbors X`: every network of that family, as if sent at once."""
        vrf = words[1] if words[0] == "vrf" else None
        family, neighbor = (words[2], words[5]) if vrf else (words[0], words[3])
        for instance in self.config["instances"]:
            if instance["vrf"] == vrf and neighbor in self.neighbors(instance):
                networks = [line.split()[1] for line in instance["families"].get(f"{family} unicast", [])
                            if line.startswith("network ")]
                routes = {network: {"network": network} for network in networks}
                print(json.dumps({"advertisedRoutes": routes, "totalPrefixCounter": len(routes)}, indent=2))
                return None
        print(json.dumps({"warning": "No such neighbor in this view/vrf"}, indent=2))
        return None

    def router_bgp(self, words):
        asn, vrf = words[2], (words[4] if len(words) == 5 else None)
        for instance in self.config["instances"]:
            if instance["vrf"] == vrf:
                if instance["asn"] != asn:
                    return self.fail(f"BGP is already running; AS is {instance['asn']}")
                self.instance = instance
                return None
        self.instance = {"asn": asn, "vrf": vrf, "lines": [], "families": {}}
        self.config["instances"].append(self.instance)
        self.changed = True
        return None

    def network(self, text, add, route_map=None):
        family = self.family or "ipv4 unicast"
        command = f"{'' if add else 'no '}network {text}"
        try:
            net = ipaddress.ip_network(text, strict=False)
        except ValueError:
            return self.fail(f"% Unknown command: {command}")
        if self.instance is None or family not in ("ipv4 unicast", "ipv6 unicast"):
            return self.fail(f"% Unknown command: {command}")
        if (net.version == 4) != (family == "ipv4 unicast"):
            return self.fail(f"% Unknown command: {command}")
        lines = self.instance["families"].setdefault(family, [])
        existing = [line for line in lines if line.split()[1] == str(net)]
        if add and route_map is not None:
            line = f"network {net} route-map {route_map}"
            if existing != [line]:
                for old in existing:
                    lines.remove(old)
                lines.append(line)
                self.changed = True
            return None
        if add:
            if not existing:
                lines.append(f"network {net}")
                self.changed = True
            return None
        if not existing:
            return self.fail("% Can't find static route specified")
        for line in existing:
            lines.remove(line)
        self.changed = True
        return None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
