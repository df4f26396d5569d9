#!/usr/bin/env bash
# Packages the chart for a release: `helm package` of a copy of charts/production-api with
#   - version and appVersion both set to the app's version (app/__init__.py, the one source
#     of truth; tests/chart/test_release.py fails when Chart.yaml disagrees);
#   - home, sources, the maintainer's URL and the Artifact Hub links from PROJECT_URL
#     (ci/project.env);
#   - with --image REPOSITORY [--digest sha256:...]: the image the release deploys by default,
#     pinned by digest, in values.yaml and in the artifacthub.io/images annotation.
# Prints the path of the .tgz.
#
#   ci/package-chart.sh OUT_DIR [--image REPOSITORY] [--digest sha256:...] [--chart DIR]
set -euo pipefail

# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source=ci/project.env
source "$REPO_ROOT/ci/project.env"

out="${1:?usage: ci/package-chart.sh OUT_DIR [--image REPOSITORY] [--digest sha256:...] [--chart DIR]}"
shift
image="" digest="" chart="$REPO_ROOT/charts/production-api"
while (($#)); do
  case "$1" in
    --image) image="$2" ;;
    --digest) digest="$2" ;;
    --chart) chart="$2" ;;
    *) die --status 2 "package-chart: unknown argument $1" ;;
  esac
  shift 2
done
[[ -z "$digest" || "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || die --status 2 "package-chart: bad digest $digest"
[[ -z "$digest" || -n "$image" ]] || die --status 2 "package-chart: --digest needs --image"

app_root="$(cd "$chart/../.." && pwd)"
version="$(sed -n 's/^__version__ = "\(.*\)"$/\1/p' "$app_root/app/__init__.py")"
[[ -n "$version" ]] || die "package-chart: no __version__ in $app_root/app/__init__.py"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$chart" "$work/production-api"
copy="$work/production-api"

# values.yaml is edited as text, so its comments (the values documentation) stay.
python3 - "$copy" "$version" "$PROJECT_URL" "$image" "$digest" <<'PY'
import re
import sys

import yaml

copy, version, url, image, digest = sys.argv[1:]
chart_file = f"{copy}/Chart.yaml"
chart = yaml.safe_load(open(chart_file, encoding="utf-8"))
chart["home"] = url
chart["sources"] = [url]
for maintainer in chart.get("maintainers", []):
    maintainer["url"] = url
annotations = chart.setdefault("annotations", {})
annotations["artifacthub.io/links"] = yaml.safe_dump(
    [{"name": "source", "url": url}, {"name": "documentation", "url": f"{url}#readme"}],
    sort_keys=False,
)
if image:
    ref = f"{image}:{version}" + (f"@{digest}" if digest else "")
    annotations["artifacthub.io/images"] = yaml.safe_dump(
        [{"name": "production-api", "image": ref}], sort_keys=False
    )
# helm package writes Chart.yaml anew from its fields, so the layout is not kept anyway.
yaml.safe_dump(chart, open(chart_file, "w", encoding="utf-8"), sort_keys=False)

if image:
    values_file = f"{copy}/values.yaml"
    values = open(values_file, encoding="utf-8").read()
    block = re.search(r"(?ms)^image:\n.*?^\S", values)
    new = re.sub(r"(?m)^(  repository: ).*$", rf"\g<1>{image}", block.group(0), count=1)
    new = re.sub(r'(?m)^(  digest: ).*$', rf'\g<1>"{digest}"', new, count=1)
    values = values.replace(block.group(0), new, 1)
    open(values_file, "w", encoding="utf-8").write(values)
PY

mkdir -p "$out"
helm package "$copy" --version "$version" --app-version "$version" --destination "$out" >/dev/null
helm lint --strict "$out/production-api-$version.tgz" >/dev/null
printf '%s\n' "$out/production-api-$version.tgz"
