#!/usr/bin/python3
# Checks the deployment files against each other and against the program: the Kubernetes
# manifests parse and hang together (selectors, ports, probes on routes the server has, a grace
# period longer than a job), every setting they name is documented in the example env, and the
# systemd unit keeps its hardening (and not the option that breaks oneDNN's JIT).
# Usage: check_deploy.py SOURCE_DIR — prints each failed check, exits 1 if any.
import configparser
import os
import re
import sys

import yaml

src = sys.argv[1]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def read(rel):
    with open(os.path.join(src, rel), encoding="utf-8") as f:
        return f.read()


docs = {}
for name in ("deployment.yaml", "service.yaml", "pdb.yaml", "config.example.yaml"):
    try:
        for d in yaml.safe_load_all(read("deploy/k8s/" + name)):
            if d:
                docs[(d["kind"], d["metadata"]["name"])] = d
    except (yaml.YAMLError, KeyError, TypeError) as e:
        failures.append(f"deploy/k8s/{name} does not parse as Kubernetes objects: {e}")

dep = docs.get(("Deployment", "idphoto"))
svc = docs.get(("Service", "idphoto"))
pdb = docs.get(("PodDisruptionBudget", "idphoto"))
cm = docs.get(("ConfigMap", "idphoto-config"))
sec = docs.get(("Secret", "idphoto-secrets"))
check(all([dep, svc, pdb, cm, sec]), "missing one of Deployment, Service, PodDisruptionBudget, ConfigMap, Secret")

# The routes are registered in the route files (routes_*.cpp) through router::on; read every
# source of src/server so a route moved between files is still found.
server_dir = os.path.join(src, "src/server")
server_src = "".join(read("src/server/" + n) for n in sorted(os.listdir(server_dir)) if n.endswith(".cpp"))
routes = set(re.findall(r'on\(\s*"GET",\s*"(/[a-z]+)"', server_src))
check(routes, "no GET routes found in src/server/*.cpp")
env_doc = read("config/idphoto.example.env")
documented = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", env_doc, re.M))
job_timeout_ms = int(re.search(r"^IDPHOTO_JOB_TIMEOUT_MS=(\d+)", env_doc, re.M).group(1))

if dep and svc and pdb:
    spec = dep["spec"]
    pod = spec["template"]["spec"]
    labels = spec["template"]["metadata"]["labels"]
    check(spec["selector"]["matchLabels"].items() <= labels.items(), "Deployment selector does not match its pods")
    check(svc["spec"]["selector"].items() <= labels.items(), "Service selector does not match the pods")
    check(pdb["spec"]["selector"]["matchLabels"].items() <= labels.items(), "PDB selector does not match the pods")
    check(spec["replicas"] >= 2, "fewer than 2 replicas: a PDB cannot keep one serving")
    check("maxUnavailable" in pdb["spec"] or "minAvailable" in pdb["spec"], "PDB without a budget")
    c = pod["containers"][0]
    port_names = {p["name"] for p in c.get("ports", [])}
    for p in svc["spec"]["ports"]:
        check(p["targetPort"] in port_names, f"Service targetPort {p['targetPort']} is not a container port")
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        pr = c.get(probe)
        check(pr is not None, f"container has no {probe}")
        if pr:
            path = pr["httpGet"]["path"]
            check(path in routes, f"{probe} uses {path}, which the server does not serve ({sorted(routes)})")
            check(pr["httpGet"]["port"] in port_names, f"{probe} port is not a container port")
    check(c["readinessProbe"]["httpGet"]["path"] == "/readyz", "readiness must be /readyz (503 while draining)")
    pre_stop_s = 0
    cmd = c.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    if len(cmd) == 2 and cmd[0].endswith("sleep"):
        pre_stop_s = int(cmd[1])
    grace = pod.get("terminationGracePeriodSeconds", 30)
    check(grace > pre_stop_s + job_timeout_ms / 1000,
          f"terminationGracePeriodSeconds {grace} <= preStop {pre_stop_s} s + job timeout {job_timeout_ms / 1000} s")
    sc = c.get("securityContext", {})
    check(sc.get("allowPrivilegeEscalation") is False, "container may escalate privileges")
    check(sc.get("readOnlyRootFilesystem") is True, "root filesystem is writable")
    check("ALL" in sc.get("capabilities", {}).get("drop", []), "capabilities are not all dropped")
    check(pod.get("securityContext", {}).get("runAsNonRoot") is True, "pod may run as root")
    check("limits" in c.get("resources", {}) and "memory" in c["resources"]["limits"], "no memory limit")
    names = {e["name"] for e in c.get("env", [])}
    for cfg in (cm, sec):
        if cfg:
            names |= set((cfg.get("data") or {}).keys()) | set((cfg.get("stringData") or {}).keys())
    for n in sorted(names):
        check(n in documented, f"{n} is used by the manifests but not documented in config/idphoto.example.env")

unit = configparser.ConfigParser(strict=False, interpolation=None)
unit.optionxform = str
try:
    unit.read_string(read("deploy/idphoto.service"))
    s = unit["Service"]
    for key in ("NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices",
                "CapabilityBoundingSet", "RestrictAddressFamilies", "SystemCallFilter",
                "RestrictNamespaces", "DynamicUser", "StateDirectory"):
        check(key in s, f"deploy/idphoto.service lacks {key}")
    check(s.get("ProtectSystem") == "strict", "ProtectSystem is not strict")
    check("MemoryDenyWriteExecute" not in s,
          "MemoryDenyWriteExecute breaks oneDNN's JIT kernels: every inference would fail")
    check(s.get("KillSignal", "SIGTERM") == "SIGTERM", "the unit must stop the service with SIGTERM")
    stop_s = int(re.match(r"(\d+)", s.get("TimeoutStopSec", "90")).group(1))
    check(stop_s > job_timeout_ms / 1000, f"TimeoutStopSec {stop_s} s does not cover a {job_timeout_ms / 1000} s job")
    check("AF_NETLINK" in s.get("RestrictAddressFamilies", ""), "getaddrinfo needs AF_NETLINK")
    for env_line in re.findall(r"^Environment=([A-Z0-9_]+)=", read("deploy/idphoto.service"), re.M):
        check(env_line in documented, f"the unit sets {env_line}, which is not documented")
except (configparser.Error, KeyError) as e:
    failures.append(f"deploy/idphoto.service does not parse: {e}")

for f in failures:
    print("check_deploy: " + f)
print(f"check_deploy: {len(failures)} problem(s)")
sys.exit(1 if failures else 0)
