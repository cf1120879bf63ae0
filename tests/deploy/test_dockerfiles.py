"""The one Dockerfile, checked statically (no Docker engine here) for every component's build, and
the image names end to end.

``validator/Dockerfile`` builds all three images; ``--build-arg COMPONENT=<component>`` picks the
extra it installs and the stage (entry point) the image ends with. Each build is checked as Docker
would resolve it — build args expanded, the final stage followed back through the stages it is
``FROM`` — for: a base image pinned to a release, the package installed with its component's
extra and nothing else (pinned by requirements.lock), a numeric non-root USER equal to the user
the pods run as, a read-only-root-friendly environment, no shell or package manager left, an
exec-form entry point that the package declares. The build context (.dockerignore) lets in what
the Dockerfile copies. The Makefile builds exactly the image names the manifests reference.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from qiskit_argo import naming, workflows
from qiskit_argo.steps import ENTRY_POINT, STEPS
from tests.deploy.builds import REPO

COMPONENTS = ("controller", "validator", "executor")
DOCKERFILE = REPO / "validator" / "Dockerfile"
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
PINNED_BASE = re.compile(r"^python:(?P<minor>3\.\d+)\.\d+-slim-(bookworm|trixie)(@sha256:[0-9a-f]{64})?$")
ENTRY_POINTS = {
    "controller": "qiskit-argo-controller",
    "validator": ENTRY_POINT,
    "executor": ENTRY_POINT,
    "executor-gpu": ENTRY_POINT,
}
_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Dockerfile:
    #: ARGs before the first FROM: name -> default (None: none, the build must pass it).
    args: dict[str, str | None]
    stages: list[Stage]


def _logical_lines(path: Path) -> list[str]:
    """Instructions of a Dockerfile, continuations joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for line in path.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.lstrip().startswith("#"):
            continue
        pending += line.rstrip("\\").rstrip() + " " if line.endswith("\\") else line
        if not line.endswith("\\"):
            logical.append(pending.strip())
            pending = ""
    return logical


def _expand(text: str, values: dict[str, str]) -> str:
    """``${NAME}`` and ``$NAME`` replaced for the names in ``values`` (others are left as written)."""
    return _VARIABLE.sub(lambda m: values.get(m.group(1) or m.group(2), m.group(0)), text)


def parse(path: Path, build_args: dict[str, str]) -> Dockerfile:
    """The stages of a Dockerfile as ``docker build --build-arg ...`` sees them: each stage's base
    with the global ARGs expanded, and its instructions with the ARGs it declares expanded."""
    args: dict[str, str | None] = {}
    stages: list[Stage] = []
    scope: dict[str, str] = {}
    for statement in _logical_lines(path):
        keyword, _, rest = statement.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "ARG":
            name, equals, default = rest.partition("=")
            name = name.strip()
            if not stages:
                args[name] = default.strip().strip('"') if equals else None
                continue
            value = build_args.get(name, default.strip().strip('"') if equals else args.get(name))
            if value is not None:
                scope[name] = value
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", rest, re.IGNORECASE)
            assert match, statement
            known = {name: build_args.get(name, default) for name, default in args.items()}
            base = _expand(match.group(1), {name: value for name, value in known.items() if value is not None})
            stages.append(Stage(base, match.group(2)))
            scope = {}
            continue
        assert stages, f"{path}: {keyword} before FROM"
        stages[-1].instructions.append((keyword, _expand(rest, scope)))
    return Dockerfile(args, stages)


@dataclass
class Image:
    """What ``docker build -f validator/Dockerfile --build-arg COMPONENT=<component>`` makes."""

    component: str
    #: The image the final stage is built on at the bottom of its chain of stages.
    base: str
    #: The final image's instructions: those of the stages it is FROM first, its own last.
    instructions: list[tuple[str, str]]
    #: Every stage the build runs: the chain and the stages it copies from.
    stages: list[Stage]


def image(component: str) -> Image:
    dockerfile = parse(DOCKERFILE, {"COMPONENT": component, "VERSION": "0.1.0"})
    by_name = {stage.name: stage for stage in dockerfile.stages if stage.name}
    chain = [dockerfile.stages[-1]]
    while chain[0].base in by_name:
        chain.insert(0, by_name[chain[0].base])
    needed: list[Stage] = []
    todo = list(chain)
    while todo:
        stage = todo.pop()
        if stage in needed:
            continue
        needed.append(stage)
        for keyword, rest in stage.instructions:
            source = re.match(r"--from=(\S+)", rest) if keyword == "COPY" else None
            if source and source.group(1) in by_name:
                todo.append(by_name[source.group(1)])
        if stage.base in by_name:
            todo.append(by_name[stage.base])
    instructions = [instruction for stage in chain for instruction in stage.instructions]
    return Image(component, chain[0].base, instructions, needed)


def _all(instructions: list[tuple[str, str]], keyword: str) -> list[str]:
    return [rest for kw, rest in instructions if kw == keyword]


def _runs(stages: list[Stage]) -> list[str]:
    return [run for stage in stages for run in _all(stage.instructions, "RUN")]


def test_one_dockerfile_builds_every_component() -> None:
    """One file, a stage per component, the last FROM chosen by COMPONENT, which has no default."""
    assert [p.relative_to(REPO).as_posix() for p in REPO.glob("*/Dockerfile")] == ["validator/Dockerfile"]
    dockerfile = parse(DOCKERFILE, {})
    assert "COMPONENT" in dockerfile.args and dockerfile.args["COMPONENT"] is None, "COMPONENT must be passed"
    assert dockerfile.stages[-1].base == "${COMPONENT}"
    assert {stage.name for stage in dockerfile.stages} >= set(COMPONENTS)
    checks = [run for run in _runs(dockerfile.stages) if "case" in run]
    assert checks and f"{'|'.join(COMPONENTS)})" in checks[0], "the build refuses any other COMPONENT"


@pytest.mark.parametrize("component", COMPONENTS)
def test_base_image_is_pinned_to_a_release(component: str) -> None:
    built = image(component)
    by_name = {stage.name for stage in built.stages if stage.name}
    for stage in built.stages:
        if stage.base not in by_name:
            assert PINNED_BASE.match(stage.base), f"{component}: FROM {stage.base} is not pinned to a Python release"
    assert len({image(c).base for c in COMPONENTS}) == 1, "the images should share one base"


@pytest.mark.parametrize("component", COMPONENTS)
def test_python_of_the_base_is_the_one_the_dockerfile_cleans_and_the_project_supports(component: str) -> None:
    built = image(component)
    base = PINNED_BASE.match(built.base)
    assert base, built.base
    minor = base.group("minor")
    required = PYPROJECT["project"]["requires-python"].removeprefix(">=")
    assert tuple(map(int, minor.split("."))) >= tuple(map(int, required.split(".")))
    for run in _all(built.instructions, "RUN"):
        for version in re.findall(r"python(3\.\d+)/", run):
            assert version == minor, f"{component}: cleans python{version} in a python{minor} image"


@pytest.mark.parametrize("component", COMPONENTS)
def test_runs_as_the_numeric_non_root_user_of_the_pods(component: str) -> None:
    users = _all(image(component).instructions, "USER")
    assert users, f"{component}: no USER in the final image"
    match = re.fullmatch(r"(\d+)(?::(\d+))?", users[-1])
    assert match, f"{component}: USER {users[-1]} is not numeric (runAsNonRoot needs a numeric user)"
    assert int(match.group(1)) != 0
    assert int(match.group(1)) == workflows.RUN_AS_USER, "the image's user is the pods' runAsUser"
    assert match.group(2) is None or int(match.group(2)) == workflows.RUN_AS_USER


@pytest.mark.parametrize("component", COMPONENTS)
def test_installs_only_its_own_extra_pinned_by_the_lock(component: str) -> None:
    built = image(component)
    assert component in PYPROJECT["project"]["optional-dependencies"], f"no `{component}` extra in pyproject.toml"
    installs = [run for run in _runs(built.stages) if re.search(r"pip install", run)]
    assert len(installs) == 1, installs
    extras = re.findall(r"\.\[([\w,-]+)\]", installs[0])
    assert extras == [component], f"{component}: installs extras {extras}"
    assert "--constraint requirements.lock" in installs[0] or "-c requirements.lock" in installs[0]
    # Only the controller image carries the adapter package: the others drop controller/ before pip runs.
    drop = re.search(r'if \[ "(\w+)" != controller \]; then rm -rf controller; fi\s+&& .*pip install', installs[0])
    assert drop and drop.group(1) == component, "the step images leave the controller's adapter package out"
    for stage in built.stages:
        for run in _all(stage.instructions, "RUN"):
            assert not re.search(r"\b(curl|wget|apt-get install|apk add|git clone)\b", run), run
        for add in _all(stage.instructions, "ADD"):
            pytest.fail(f"{component}: ADD {add} (use COPY)")


@pytest.mark.parametrize("component", COMPONENTS)
def test_final_image_leaves_no_shell_pip_or_package_manager(component: str) -> None:
    final = image(component).instructions
    runs = _all(final, "RUN")
    assert runs and re.search(r"\brm -f [^&]*/bin/sh\b", runs[-1]), f"{component}: the shells are not removed"
    removed = " ".join(runs)
    for tool in ("/bin/bash", "/bin/dash", "/usr/bin/apt", "/usr/bin/dpkg", "/usr/local/bin/pip"):
        assert tool in removed, f"{component}: {tool} stays in the image"
    assert final.index(("RUN", runs[-1])) < max(i for i, (kw, _) in enumerate(final) if kw == "USER"), (
        "nothing may RUN after the shells are gone"
    )
    copies = _all(final, "COPY")
    assert copies and all(c.startswith("--from=") for c in copies), "the final image copies only the built venv"


@pytest.mark.parametrize("component", COMPONENTS)
def test_environment_suits_a_read_only_root_filesystem(component: str) -> None:
    env = " ".join(_all(image(component).instructions, "ENV"))
    assert "HOME=/tmp" in env and "PYTHONDONTWRITEBYTECODE=1" in env
    if component == "executor":
        assert "MPLCONFIGDIR=/tmp/" in env, "matplotlib writes its cache under MPLCONFIGDIR"


@pytest.mark.parametrize("component", COMPONENTS)
def test_labels_name_the_component(component: str) -> None:
    labels = " ".join(_all(image(component).instructions, "LABEL"))
    assert f'org.opencontainers.image.title="qiskit-argo-{component}"' in labels
    assert 'org.opencontainers.image.version="0.1.0"' in labels


@pytest.mark.parametrize("component", COMPONENTS)
def test_entry_point_is_exec_form_and_declared_by_the_package(component: str) -> None:
    entrypoints = _all(image(component).instructions, "ENTRYPOINT")
    assert entrypoints, f"{component}: no ENTRYPOINT"
    entrypoint = entrypoints[-1]
    assert entrypoint.startswith("["), f"{component}: ENTRYPOINT is not exec form (no shell in the image)"
    script = Path(eval(entrypoint)[0]).name  # noqa: S307 - a JSON list literal from our own file
    assert script == ENTRY_POINTS[component]
    scripts = dict(PYPROJECT["project"].get("scripts", {}))
    controller_pyproject = REPO / "controller" / "pyproject.toml"
    if controller_pyproject.exists():
        scripts.update(tomllib.loads(controller_pyproject.read_text())["project"].get("scripts", {}))
    if component == "controller" and script not in scripts:
        pytest.skip("the console script qiskit-argo-controller is not declared in a pyproject.toml yet")
    assert script in scripts, f"{script} is not a console script of the package"


def test_step_templates_run_the_entry_point_of_their_image() -> None:
    template = workflows.cluster_workflow_template()
    for step in template["spec"]["templates"]:
        if "container" not in step:
            continue
        component = STEPS[step["name"]].component
        assert step["container"]["command"] == [ENTRY_POINTS[component]]
        assert step["container"]["image"] == naming.image(component)


# --------------------------------------------------------------------------- the build context


def _dockerignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    patterns = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = ""
        i = 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                regex += "(?:.*/)?"
                i += 3
            elif pattern.startswith("**", i):
                regex += ".*"
                i += 2
            elif pattern[i] == "*":
                regex += "[^/]*"
                i += 1
            elif pattern[i] == "?":
                regex += "[^/]"
                i += 1
            elif pattern[i] == "[":
                end = pattern.index("]", i)
                regex += pattern[i : end + 1]
                i = end + 1
            else:
                regex += re.escape(pattern[i])
                i += 1
        patterns.append((negate, re.compile(regex + "$")))
    return patterns


def excluded(relative: str) -> bool:
    """Whether Docker leaves ``relative`` out of the context (a pattern matching a parent counts)."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for negate, regex in _dockerignore_patterns():
        if any(regex.match(candidate) for candidate in candidates):
            result = not negate
    return result


def test_dockerignore_matcher() -> None:
    assert excluded(".git/config") and excluded(".venv/bin/python") and excluded("tests/conftest.py")
    assert not excluded("qiskit_argo/api.py") and not excluded("pyproject.toml")
    assert excluded("qiskit_argo/__pycache__/api.cpython-311.pyc")


@pytest.mark.parametrize("component", COMPONENTS)
def test_everything_copied_is_in_the_build_context(component: str) -> None:
    for stage in image(component).stages:
        for copy in _all(stage.instructions, "COPY"):
            if copy.startswith("--from="):
                continue
            *sources, _ = copy.split()
            for source in sources:
                path = REPO / source
                assert path.exists(), f"{component}: COPY {source}: no such file"
                files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
                kept = [p for p in files if not excluded(str(p.relative_to(REPO)))]
                assert kept, f"{component}: .dockerignore leaves nothing of {source} in the context"
                if path.is_file():
                    assert kept == [path], f"{component}: .dockerignore excludes {source}"


def test_secrets_and_local_state_stay_out_of_the_build_context() -> None:
    for relative in (".env", "id_rsa", ".venv/lib/x.py", ".git/HEAD", "results/sweep/result.json", "kustomize/x.yaml"):
        assert excluded(relative), relative


# --------------------------------------------------------------------------- what the Makefile builds


def _make_plan(makefile: str, *targets: str) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    done = subprocess.run(
        # --no-print-directory: under `make test` (MAKELEVEL set) make would add "Entering directory" lines.
        ["make", "-n", "--no-print-directory", "-f", makefile, f"PY={sys.executable}", "STAMP=", *targets],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def built_images() -> dict[str, str]:
    """Component → the tag ``make images`` gives it (from a dry run of Makefile.images), each built
    from the one Dockerfile with its COMPONENT."""
    plan = _make_plan("Makefile.images", "images")
    images = {}
    for line in plan.splitlines():
        match = re.search(r"docker build -f (\S+) .*--build-arg COMPONENT=(\w+) .* -t (\S+) \.$", line)
        if match:
            assert REPO / match.group(1) == DOCKERFILE, line
            images[match.group(2)] = match.group(3)
    return images


def test_the_makefile_builds_every_image_under_the_name_the_manifests_use() -> None:
    images = built_images()
    assert images == {component: naming.image(component) for component in COMPONENTS}
    template = workflows.cluster_workflow_template()
    used = {step["container"]["image"] for step in template["spec"]["templates"] if "container" in step}
    assert used <= {*images.values(), naming.image(GPU_COMPONENT)}


# --------------------------------------------------------------------------- the GPU executor

GPU_COMPONENT = "executor-gpu"
GPU_DOCKERFILE = REPO / "executor" / "Dockerfile.gpu"
PINNED_CUDA = re.compile(r"^nvidia/cuda:12\.\d+\.\d+-runtime-ubuntu\d\d\.\d\d(@sha256:[0-9a-f]{64})?$")


def _lock() -> dict[str, str]:
    lines = (REPO / "requirements.lock").read_text().splitlines()
    return dict(line.split("==", 1) for line in lines if "==" in line and not line.startswith("#"))


def test_the_gpu_image_is_built_under_the_name_its_steps_use() -> None:
    plan = _make_plan("Makefile.images", "image-executor-gpu")
    assert "docker build -f executor/Dockerfile.gpu --build-arg VERSION=" in plan
    assert plan.rstrip().endswith(f"-t {naming.image(GPU_COMPONENT)} .")
    gpu_steps = [spec for spec in STEPS.values() if spec.component == GPU_COMPONENT]
    for spec in gpu_steps:
        assert spec.resources.requests.get("nvidia.com/gpu") == spec.resources.limits.get("nvidia.com/gpu") == "1"


def test_the_gpu_image_runs_qiskit_aer_gpu_pinned_like_aer_on_a_pinned_cuda_12_runtime() -> None:
    dockerfile = parse(GPU_DOCKERFILE, {"VERSION": "0.1.0"})
    assert [stage.base for stage in dockerfile.stages] and all(
        PINNED_CUDA.match(stage.base) for stage in dockerfile.stages
    ), [stage.base for stage in dockerfile.stages]
    runs = " ".join(_runs(dockerfile.stages))
    assert '--constraint requirements.lock ".[executor]"' in runs
    assert "pip uninstall --yes qiskit-aer " in runs and '"qiskit-aer-gpu==${AER_VERSION}"' in runs
    assert "s/^qiskit-aer==//p" in runs and _lock().get("qiskit-aer"), "requirements.lock pins qiskit-aer"
    assert "pip uninstall --yes pip setuptools" in runs


def test_the_gpu_image_runs_as_the_pods_user_without_a_shell() -> None:
    dockerfile = parse(GPU_DOCKERFILE, {"VERSION": "0.1.0"})
    final = dockerfile.stages[-1]
    assert final.name == GPU_COMPONENT
    assert _all(final.instructions, "USER") == [f"{workflows.RUN_AS_USER}:{workflows.RUN_AS_USER}"]
    assert _all(final.instructions, "ENTRYPOINT") == [f'["/opt/qiskit-argo/bin/{ENTRY_POINT}"]']
    runs = " ".join(_all(final.instructions, "RUN"))
    assert "/bin/sh" in runs and "/usr/bin/dpkg" in runs, "shells and the package manager go"
    (env,) = _all(final.instructions, "ENV")
    assert "HOME=/tmp" in env and "PATH=/opt/qiskit-argo/bin" in env


def test_push_and_kind_load_cover_every_image() -> None:
    plan = _make_plan("Makefile.images", "push-images", "kind-load-images")
    for component in COMPONENTS:
        assert f"docker push {naming.image(component)}" in plan
        assert f"kind load docker-image --name qiskit-argo {naming.image(component)}" in plan


def test_the_main_makefile_includes_the_image_targets() -> None:
    makefile = (REPO / "Makefile").read_text()
    if not re.search(r"^-?include\s+Makefile\.images\b", makefile, re.MULTILINE):
        pytest.skip("the Makefile does not include Makefile.images yet (one line: `include Makefile.images`)")
    assert "docker build" in _make_plan("Makefile", "images")
