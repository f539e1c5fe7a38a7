"""The Debian packages from scripts/package-deb: their metadata and files, and a real install, upgrade, downgrade,
removal and purge in a throwaway root.

The throwaway root is an overlay of this machine's own file system (its libraries, adduser, dpkg database) with a
tmpfs on top, mounted in a private mount namespace that a holder process keeps alive: dpkg and the maintainer
scripts run in it for real (chroot), and everything they change vanishes with the namespace. `/run/systemd/system`
exists in it, so the scripts act as under systemd, and a policy-rc.d records every service action they ask for and
refuses it (exit 101), as in a Debian chroot.

The packages come from TRAM_DEB_DIR (default .build-static/debs, where `scripts/package-deb --debug` puts them, as
scripts/test does). Skipped, saying why, when there are none, or (the install test) when not root or when mount
namespaces or overlayfs are not available.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import wait_for
from test_deploy import MAX_EXPOSURE, security

ROOT = Path(__file__).resolve().parents[2]
DEB_DIR = Path(os.environ.get("TRAM_DEB_DIR", ROOT / ".build-static" / "debs"))
VERSION = re.search(r'static let version = "([^"]+)"',
                    (ROOT / "Sources" / "TramAgent" / "AgentRuntime.swift").read_text()).group(1)
ARCH = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True).stdout.strip()


def deb(package: str) -> Path:
    path = DEB_DIR / f"{package}_{VERSION}_{ARCH}.deb"
    if not path.exists():
        pytest.skip(f"{path} is not built (scripts/package-deb --debug, or TRAM_DEB_DIR=DIR)")
    return path


def field(package_file: Path, name: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(package_file), name], capture_output=True, text=True,
                          check=True).stdout.strip()


def contents(package_file: Path) -> dict[str, tuple[str, str]]:
    """path → (mode string, owner/group), from dpkg-deb -c."""
    out = subprocess.run(["dpkg-deb", "-c", str(package_file)], capture_output=True, text=True, check=True).stdout
    entries = {}
    for line in out.splitlines():
        mode, owner, _size, _date, _time, name = line.split(None, 5)
        name = name.split(" -> ")[0]
        entries["/" + name.lstrip("./").rstrip("/")] = (mode, owner)
    return entries


def extract(package_file: Path, into: Path) -> tuple[Path, Path]:
    """(the file tree, the DEBIAN control directory)."""
    files, control = into / "files", into / "DEBIAN"
    subprocess.run(["dpkg-deb", "-x", str(package_file), str(files)], check=True)
    subprocess.run(["dpkg-deb", "-e", str(package_file), str(control)], check=True)
    return files, control


def depends(package_file: Path) -> set[str]:
    return {alternative.split()[0] for alternative in re.split(r"[,|]", field(package_file, "Depends")) if alternative.strip()}


def check_static_and_stripped(binary: Path) -> set[str]:
    """The binary's NEEDED libraries, after checking it is stripped and carries no Swift runtime library."""
    sections = subprocess.run(["readelf", "-SW", str(binary)], capture_output=True, text=True, check=True).stdout
    assert ".symtab" not in sections and ".debug_info" not in sections, f"{binary.name} is not stripped"
    dynamic = subprocess.run(["readelf", "-dW", str(binary)], capture_output=True, text=True, check=True).stdout
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic))
    swift = {lib for lib in needed if re.match(r"lib(swift|Foundation|dispatch|BlocksRuntime|_Foundation)", lib)}
    assert not swift, f"{binary.name} links Swift's runtime dynamically: {swift} (build with --static-swift-stdlib)"
    assert "RUNPATH" not in dynamic and "RPATH" not in dynamic, f"{binary.name} carries a run path"
    return needed


# ----------------------------------------------------------------------------------------------- the packages

def test_agent_package_has_its_files_depends_and_conffiles(tmp_path):
    package = deb("tram-agent")
    assert field(package, "Package") == "tram-agent" and field(package, "Version") == VERSION
    assert field(package, "Architecture") == ARCH
    assert {"libc6", "libmodbus5", "libcurl4", "libyaml-0-2", "libzstd1", "adduser", "init-system-helpers"} <= depends(package)

    entries = contents(package)
    for path in ("/usr/bin/tram-agent", "/usr/bin/tramctl"):
        assert entries[path] == ("-rwxr-xr-x", "root/root"), (path, entries.get(path))
    for path in ("/usr/lib/systemd/system/tram-agent.service", "/etc/tram/agent.yaml.example",
                 "/usr/share/doc/tram-agent/deploy.md", "/usr/share/doc/tram-agent/examples/60-tram-serial.rules",
                 "/usr/lib/udev/rules.d/60-tram-modemmanager-ignore.rules",
                 "/usr/share/dbus-1/system.d/tram-agent.conf", "/usr/lib/systemd/system/tram-modem-signal.service",
                 "/usr/lib/systemd/system/tram-modem-signal.timer", "/usr/share/doc/tram-agent/builtin-devices.md"):
        assert entries[path] == ("-rw-r--r--", "root/root"), (path, entries.get(path))
    profiles = sorted(p.relative_to(ROOT / "Devices") for p in (ROOT / "Devices").rglob("*.yaml"))
    assert profiles
    for profile in profiles:
        assert entries[f"/usr/share/tram/devices/{profile}"] == ("-rw-r--r--", "root/root"), profile
    directories = [path for path, (mode, _) in entries.items() if mode.startswith("d")]
    assert all(entries[path] == ("drwxr-xr-x", "root/root") for path in directories), directories
    # The admin's files and the spool are never the package's.
    assert "/etc/tram/agent.yaml" not in entries and not any(path.startswith("/var/lib") for path in entries)

    files, control = extract(package, tmp_path)
    assert (control / "conffiles").read_text().split() == ["/etc/tram/agent.yaml.example"]
    for script in ("postinst", "prerm", "postrm"):
        assert (control / script).stat().st_mode & 0o777 == 0o755, script
        assert (control / script).read_bytes() == (ROOT / "deploy" / "debian" / "tram-agent" / script).read_bytes()
    assert (files / "usr/lib/systemd/system/tram-agent.service").read_bytes() == (ROOT / "deploy" / "tram-agent.service").read_bytes()
    exposure, rating, _ = security(files / "usr/lib/systemd/system/tram-agent.service")
    assert exposure <= MAX_EXPOSURE and rating == "OK"
    for name in ("tram-modem-signal.service", "tram-modem-signal.timer"):
        assert (files / "usr/lib/systemd/system" / name).read_bytes() == (ROOT / "deploy" / name).read_bytes()
    # The signal one-shot is installed but not enabled: nothing in the package links it into a target.
    assert not any("tram-modem-signal" in path for path in entries if "/etc/systemd" in path)

    needed = check_static_and_stripped(files / "usr/bin/tram-agent") | check_static_and_stripped(files / "usr/bin/tramctl")
    # Every library the binaries load comes from a package in Depends (what dpkg-shlibdeps is for).
    for library, package_name in (("libmodbus.so.5", "libmodbus5"), ("libcurl.so.4", "libcurl4"),
                                  ("libyaml-0.so.2", "libyaml-0-2"), ("libzstd.so.1", "libzstd1")):
        assert library in needed, (library, needed)
        assert package_name in depends(package)
    print(f"tram-agent {VERSION} {ARCH}: {package.stat().st_size} B; tram-agent {(files / 'usr/bin/tram-agent').stat().st_size} B, "
          f"tramctl {(files / 'usr/bin/tramctl').stat().st_size} B; Depends: {field(package, 'Depends')}")


def test_collector_package_has_its_files_depends_and_conffiles(tmp_path):
    package = deb("tram-collector")
    assert field(package, "Package") == "tram-collector" and field(package, "Version") == VERSION
    assert {"libc6", "libsqlite3-0", "adduser", "init-system-helpers"} <= depends(package)
    entries = contents(package)
    assert entries["/usr/bin/tram-collector"] == ("-rwxr-xr-x", "root/root")
    assert entries["/usr/lib/systemd/system/tram-collector.service"] == ("-rw-r--r--", "root/root")
    assert entries["/etc/default/tram-collector"] == ("-rw-r-----", "root/root")  # may hold the relay's token
    files, control = extract(package, tmp_path)
    assert (control / "conffiles").read_text().split() == ["/etc/default/tram-collector"]
    needed = check_static_and_stripped(files / "usr/bin/tram-collector")
    assert "libsqlite3.so.0" in needed
    exposure, rating, _ = security(files / "usr/lib/systemd/system/tram-collector.service")
    assert exposure <= MAX_EXPOSURE and rating == "OK"
    print(f"tram-collector {VERSION} {ARCH}: {package.stat().st_size} B; binary {(files / 'usr/bin/tram-collector').stat().st_size} B; "
          f"Depends: {field(package, 'Depends')}")


# ----------------------------------------------------------------------------------------------- the throwaway root

class ThrowawayRoot:
    """An overlay of / (tmpfs upper) in a private mount namespace, held open by a sleeping process."""

    def __init__(self, procs, base: Path):
        self.merged = base / "merged"
        self.merged.mkdir(parents=True)
        script = f"""set -e
upper={base}/upper
mkdir -p "$upper"
mount -t tmpfs -o mode=0755 tram-upper "$upper"
mkdir "$upper/u" "$upper/w"
mount -t overlay tram-root -o lowerdir=/,upperdir="$upper/u",workdir="$upper/w" {self.merged}
mount --rbind /dev {self.merged}/dev
mount -t proc proc {self.merged}/proc
mount -t tmpfs -o mode=0755 tram-run {self.merged}/run
mkdir -p {self.merged}/run/systemd/system {self.merged}/run/lock
chmod 1777 {self.merged}/run/lock
echo READY
exec sleep 86400
"""
        self.holder = procs.spawn(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                                  "throwaway-root", stdout=subprocess.PIPE)
        line = self.holder.stdout.readline().decode().strip()
        if line != "READY":
            pytest.skip("cannot mount an overlay in a private mount namespace here: "
                        + procs.stderr_of(self.holder).strip()[-300:])
        self.procs = procs

    def argv(self, command: str, user: str | None = None) -> list[str]:
        """command run by sh in the root, as root or as `user` (its own groups, as systemd's User= sets them)."""
        if user:
            command = (f"exec setpriv --reuid={user} --regid=$(id -g {user}) --init-groups "
                       f"sh -c {shlex.quote(command)}")
        return ["nsenter", f"--target={self.holder.pid}", "--mount", "--", "chroot", str(self.merged),
                "env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
                "sh", "-c", command]

    def run(self, command: str, *, user: str | None = None, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        proc = subprocess.run(self.argv(command, user), capture_output=True, text=True, timeout=timeout)
        if check:
            assert proc.returncode == 0, f"{command}: rc={proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        return proc

    def out(self, command: str, **kw) -> str:
        return self.run(command, **kw).stdout.strip()

    def copy_in(self, source: Path, target: str) -> None:
        """A host file into the root (the copy is made inside the namespace, where both are visible)."""
        subprocess.run(["nsenter", f"--target={self.holder.pid}", "--mount", "--", "install", "-D", "-m", "0644",
                        str(source), f"{self.merged}{target}"], check=True, timeout=60)

    def actions(self) -> list[str]:
        """The service actions the maintainer scripts asked for so far (unit action), and forget them."""
        text = self.out("cat /var/log/tram-policy-rc.log 2>/dev/null; : > /var/log/tram-policy-rc.log")
        return text.splitlines()

    def stat(self, path: str) -> tuple[str, str, str]:
        """(owner, group, octal mode)."""
        owner, group, mode = self.out(f"stat -c '%U %G %a' {path}").split()
        return owner, group, mode


def repack(package_file: Path, version: str, into: Path) -> Path:
    """The same package under another version (an upgrade or a downgrade to install)."""
    tree = into / f"tree-{version}"
    subprocess.run(["dpkg-deb", "-R", str(package_file), str(tree)], check=True)
    control = tree / "DEBIAN" / "control"
    control.write_text(re.sub(r"(?m)^Version: .*$", f"Version: {version}", control.read_text()))
    out = into / f"{field(package_file, 'Package')}_{version}_{ARCH}.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(tree), str(out)], check=True,
                   capture_output=True)
    return out


@pytest.fixture
def throwaway_root(procs, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("installing into a throwaway root needs root (mount namespace, overlay, chroot)")
    for tool in ("unshare", "nsenter", "setpriv", "dpkg"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is missing")
    root = ThrowawayRoot(procs, tmp_path / "root")
    # Record the maintainer scripts' service actions and refuse them, as policy-rc.d does in chroots.
    policy = tmp_path / "policy-rc.d"
    policy.write_text("#!/bin/sh\necho \"$1 $2\" >> /var/log/tram-policy-rc.log\nexit 101\n")
    root.copy_in(policy, "/usr/sbin/policy-rc.d")
    root.run("chmod 0755 /usr/sbin/policy-rc.d")
    return root


def test_agent_package_installs_upgrades_and_removes_in_a_throwaway_root(throwaway_root, procs, tmp_path):
    root = throwaway_root
    package = deb("tram-agent")
    newer, older = repack(package, VERSION + "+1", tmp_path), package
    for path in (package, newer):
        root.copy_in(path, f"/root/debs/{path.name}")
    had_user = root.run("getent passwd tram", check=False).returncode == 0

    # Install: the user, the state directory, the unit enabled, nothing started (no /etc/tram/agent.yaml).
    installed = root.run(f"dpkg -i /root/debs/{package.name}")
    assert "idle until /etc/tram/agent.yaml exists" in installed.stdout, installed.stdout
    assert root.actions() == []
    passwd = root.out("getent passwd tram").split(":")
    assert passwd[5] == "/var/lib/tram" and passwd[6] == "/usr/sbin/nologin", passwd
    assert set(root.out("id -nG tram").split()) >= {"tram", "dialout"}
    if not had_user:
        assert int(passwd[2]) < 1000, "a system user"
    assert root.stat("/var/lib/tram") == ("tram", "tram", "750")
    assert root.stat("/usr/bin/tram-agent") == ("root", "root", "755")
    assert root.out("readlink /etc/systemd/system/multi-user.target.wants/tram-agent.service").endswith("/tram-agent.service")
    assert root.out("tram-agent --version") == f"tram-agent {VERSION}"
    # The example validates, read as the service's user, with the installed device library.
    check = root.run("tram-agent --check --config /etc/tram/agent.yaml.example", user="tram")
    assert "valid" in check.stdout, check.stdout + check.stderr

    # The admin writes a config: a real run as user tram, the spool in /var/lib/tram, the control socket in
    # /run/tram (made as the unit's RuntimeDirectory would), reachable by group tram only.
    root.run("sed -e 's/^  metrics_port: .*/  metrics_port: null/' /etc/tram/agent.yaml.example > /etc/tram/agent.yaml")
    root.run("printf 'not-a-real-token\\n' > /etc/tram/collector.token && chgrp tram /etc/tram/collector.token "
             "&& chmod 0640 /etc/tram/collector.token")
    root.run("install -d -o tram -g tram -m 0750 /run/tram")
    root.run("adduser --system --group --no-create-home tech > /dev/null && adduser tech tram > /dev/null")
    agent = procs.spawn(root.argv("umask 0027; exec tram-agent --config /etc/tram/agent.yaml", user="tram"), "agent-in-root")
    wait_for(lambda: agent.poll() is not None or root.run("test -S /run/tram/agent.sock", check=False).returncode == 0,
             30, "the agent's control socket in the throwaway root")
    assert agent.poll() is None, procs.stderr_of(agent)
    assert root.stat("/run/tram/agent.sock")[:2] == ("tram", "tram") and root.stat("/run/tram/agent.sock")[2] == "660"
    status = root.run("tramctl status --json --socket /run/tram/agent.sock", user="tech")
    assert '"gw-example-01"' in status.stdout
    refused = root.run("tramctl status --json --socket /run/tram/agent.sock", user="nobody", check=False)
    assert refused.returncode != 0
    os.kill(agent.pid, signal.SIGTERM)
    assert agent.wait(timeout=30) == 0, procs.stderr_of(agent)
    assert root.stat("/var/lib/tram/spool")[:2] == ("tram", "tram")
    spool_files = root.out("cd /var/lib/tram/spool && find . -type f | sort | xargs md5sum")
    assert spool_files

    # Upgrade: prerm leaves the agent running, postinst restarts it on the new binary; spool and config stay.
    root.run(f"dpkg -i /root/debs/{newer.name}")
    assert root.actions() == ["tram-agent.service restart"]
    assert root.out("dpkg-query -W -f '${Version}' tram-agent") == VERSION + "+1"
    assert root.out("cd /var/lib/tram/spool && find . -type f | sort | xargs md5sum") == spool_files
    assert root.out("head -c 200 /etc/tram/agent.yaml") == root.out("head -c 200 /etc/tram/agent.yaml.example")
    assert root.stat("/etc/tram/collector.token") == ("root", "tram", "640")

    # Rollback: dpkg -i of the older package.
    root.run(f"dpkg -i /root/debs/{older.name}")
    assert root.actions() == ["tram-agent.service restart"]
    assert root.out("cd /var/lib/tram/spool && find . -type f | sort | xargs md5sum") == spool_files

    # Remove: stopped; the admin's files, the conffile and the spool stay; the unit is masked.
    root.run("dpkg -r tram-agent")
    assert root.actions() == ["tram-agent.service stop"]
    assert root.run("test -e /usr/bin/tram-agent", check=False).returncode != 0
    for kept in ("/etc/tram/agent.yaml", "/etc/tram/collector.token", "/etc/tram/agent.yaml.example", "/var/lib/tram/spool"):
        assert root.run(f"test -e {kept}", check=False).returncode == 0, kept
    assert root.out("readlink /etc/systemd/system/tram-agent.service") == "/dev/null"

    # Installed again over its config files: unmasked, still enabled, and running again (the config is there).
    root.run(f"dpkg -i /root/debs/{package.name}")
    assert root.actions() == ["tram-agent.service restart"]
    assert root.run("test -e /etc/systemd/system/tram-agent.service", check=False).returncode != 0
    assert root.out("readlink /etc/systemd/system/multi-user.target.wants/tram-agent.service").endswith("/tram-agent.service")
    root.run("dpkg -r tram-agent")
    assert root.actions() == ["tram-agent.service stop"]

    # Purge: the spool and the conffile go; the admin's files and the user stay.
    root.run("dpkg -P tram-agent")
    assert root.run("test -e /var/lib/tram", check=False).returncode != 0
    assert root.run("test -e /etc/tram/agent.yaml.example", check=False).returncode != 0
    assert root.run("test -e /etc/tram/agent.yaml", check=False).returncode == 0
    assert root.run("test -e /etc/systemd/system/tram-agent.service", check=False).returncode != 0
    assert root.run("getent passwd tram", check=False).returncode == 0


def test_agent_starts_on_install_when_a_config_exists(throwaway_root):
    root = throwaway_root
    package = deb("tram-agent")
    root.copy_in(package, f"/root/debs/{package.name}")
    root.run("mkdir -p /etc/tram && printf 'gateway: {id: x}\\n' > /etc/tram/agent.yaml")
    root.run(f"dpkg -i /root/debs/{package.name}")
    assert root.actions() == ["tram-agent.service start"]


def test_collector_package_installs_and_keeps_its_database_on_purge(throwaway_root, tmp_path):
    root = throwaway_root
    package = deb("tram-collector")
    root.copy_in(package, f"/root/debs/{package.name}")
    root.run(f"dpkg -i /root/debs/{package.name}")
    assert root.actions() == ["tram-collector.service start"]
    assert root.stat("/var/lib/tram-collector") == ("tram-collector", "tram-collector", "750")
    assert root.stat("/etc/tram-collector") == ("root", "tram-collector", "750")
    assert root.stat("/etc/default/tram-collector") == ("root", "root", "640")
    assert root.out("readlink /etc/systemd/system/multi-user.target.wants/tram-collector.service").endswith("/tram-collector.service")
    # The management verbs, as the service's user (docs/deploy.md), create the database it will serve.
    token = root.out("tram-collector gateway add gw-1 --db /var/lib/tram-collector/collector.db", user="tram-collector")
    assert len(token) >= 20
    assert root.stat("/var/lib/tram-collector/collector.db")[:2] == ("tram-collector", "tram-collector")
    root.run("dpkg -r tram-collector")
    assert root.actions() == ["tram-collector.service stop"]
    purged = root.run("dpkg -P tram-collector")
    assert "was kept" in purged.stdout
    assert root.run("test -e /var/lib/tram-collector/collector.db", check=False).returncode == 0
    assert root.run("test -e /etc/default/tram-collector", check=False).returncode != 0


def test_modemmanager_ignore_rules_tag_the_serial_adapters_the_example_rules_name():
    """Every rule of 60-tram-modemmanager-ignore.rules is well formed (KEY OP "VALUE", comma-separated, known
    operators) and tags ID_MM_DEVICE_IGNORE; together they cover each vendor:product the serial example names."""
    import re
    rules = (ROOT / "deploy/udev/60-tram-modemmanager-ignore.rules").read_text()
    pair = re.compile(r'^\s*([A-Z_]+(?:\{[A-Za-z_]+\})?)\s*(==|!=|\+=|=)\s*"([^"]*)"\s*$')
    covered = set()
    lines = [line for line in rules.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert lines
    for line in lines:
        keys = {}
        for part in line.split(","):
            m = pair.match(part)
            assert m, (line, part)
            keys[m.group(1)] = (m.group(2), m.group(3))
        assert keys["ENV{ID_MM_DEVICE_IGNORE}"] == ("=", "1"), line
        vendor = (keys.get("ATTR{idVendor}") or keys.get("ATTRS{idVendor}"))[1]
        products = (keys.get("ATTR{idProduct}") or keys.get("ATTRS{idProduct}"))[1].split("|")
        covered |= {(vendor, p) for p in products}
    example = (ROOT / "deploy/udev/60-tram-serial.rules").read_text()
    named = set(re.findall(r'ATTRS\{idVendor\}=="([0-9a-f]{4})", ATTRS\{idProduct\}=="([0-9a-f]{4})"', example))
    assert named and named <= covered
    assert {("0403", "6001"), ("0403", "6014"), ("1a86", "7523"), ("1a86", "5523")} <= covered


def test_the_dbus_policy_denies_user_tram_modemmanager_and_allows_back_only_reads():
    """deploy/dbus/tram-agent.conf is well-formed busconfig: one policy for user tram whose first rule denies every
    call to ModemManager, followed by allows of exactly the read-only members (the bus applies the last match)."""
    import xml.etree.ElementTree as ET
    root = ET.parse(ROOT / "deploy/dbus/tram-agent.conf").getroot()
    assert root.tag == "busconfig"
    [policy] = root.findall("policy")
    assert policy.attrib == {"user": "tram"}
    rules = list(policy)
    assert rules[0].tag == "deny" and rules[0].attrib == {"send_destination": "org.freedesktop.ModemManager1"}
    allowed = {(r.attrib["send_interface"], r.attrib["send_member"]) for r in rules[1:]}
    assert all(r.tag == "allow" and r.attrib["send_destination"] == "org.freedesktop.ModemManager1" for r in rules[1:])
    assert allowed == {("org.freedesktop.DBus.ObjectManager", "GetManagedObjects"),
                       ("org.freedesktop.DBus.Properties", "Get"), ("org.freedesktop.DBus.Properties", "GetAll"),
                       ("org.freedesktop.ModemManager1.Modem.Location", "GetLocation")}
