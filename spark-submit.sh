#!/usr/bin/env bash
# Run a job of jobs/ with spark-submit, the pinned JARs and rmf_spark shipped to executors.
#
#   ./spark-submit.sh JOB_NAME [job args...]
#
# Environment:
#   SPARK_SUBMIT_ARGS  extra spark-submit options, e.g. "--master yarn --deploy-mode client
#                      --num-executors 50 --executor-memory 8g" (default: --master local[*])
#   RMF_CONFIG         profile passed to the job as --config (default: conf/local.toml)
#   RMF_PYTHON         Python with rmf_spark's dependencies (default: .venv/bin/python)
#   SPARK_SUBMIT       spark-submit binary (default: the one inside the installed pyspark)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [[ $# -lt 1 ]]; then
  echo "usage: $0 JOB_NAME [args...]; jobs: $(cd "$root/jobs" && ls *.py | sed 's/\.py$//' | tr '\n' ' ')" >&2
  exit 2
fi
job=$1; shift
job_file="$root/jobs/$job.py"
[[ -f $job_file ]] || { echo "error: no job '$job' (no file $job_file)" >&2; exit 2; }

py=${RMF_PYTHON:-$root/.venv/bin/python}
[[ -x $py ]] || { echo "error: $py not found; run 'make install' first or set RMF_PYTHON" >&2; exit 2; }
export SPARK_LOCAL_IP=${SPARK_LOCAL_IP:-127.0.0.1}
export PYSPARK_PYTHON=${PYSPARK_PYTHON:-$py}
export PYSPARK_DRIVER_PYTHON=${PYSPARK_DRIVER_PYTHON:-$py}

# The JARs: on the driver and executor class path (see rmf_spark/jvm.py for why), and shipped
# with --jars so that cluster executors find them in their working directory.
cp=$("$py" -m rmf_spark.jvm classpath)
jars=$("$py" -m rmf_spark.jvm classpath --sep ,)
read -r -a extra <<< "${SPARK_SUBMIT_ARGS:---master local[*]}"
master=local
for ((i = 0; i < ${#extra[@]}; i++)); do
  [[ ${extra[i]} == --master ]] && master=${extra[i + 1]:-}
  [[ ${extra[i]} == --master=* ]] && master=${extra[i]#--master=}
done
local_opts=()
if [[ $master == local* ]]; then
  exec_cp=$cp
  local_opts=(--conf "spark.driver.host=$SPARK_LOCAL_IP")
else
  exec_cp=$(tr ':' '\n' <<< "$cp" | xargs -n1 basename | paste -sd: -)
fi

# rmf_spark itself, zipped for --py-files (rebuilt when any source is newer than the zip).
zip="$root/build/rmf_spark.zip"
if [[ ! -f $zip ]] || [[ -n $(find "$root/rmf_spark" -name '*.py' -newer "$zip" -print -quit) ]]; then
  mkdir -p "$root/build"
  "$py" - "$root" "$zip" <<'PY'
import sys, zipfile, pathlib
root, out = pathlib.Path(sys.argv[1]), sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    for p in sorted((root / "rmf_spark").rglob("*")):
        if p.is_file() and "__pycache__" not in p.parts:
            z.write(p, p.relative_to(root))
PY
fi

submit=${SPARK_SUBMIT:-$("$py" -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-submit"))')}
config=${RMF_CONFIG:-$root/conf/local.toml}
exec "$submit" \
  "${extra[@]}" \
  --jars "$jars" \
  --driver-class-path "$cp" \
  --conf "spark.executor.extraClassPath=$exec_cp" \
  "${local_opts[@]}" \
  --py-files "$zip" \
  "$job_file" --config "$config" "$@"
