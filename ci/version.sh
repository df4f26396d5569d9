#!/usr/bin/env bash
# The project's version rules. One version: app/__init__.py's __version__, which the chart's
# `version` and `appVersion` repeat. Releases are git tags `v<version>`.
#
#   ci/version.sh check     fails when the three disagree, when the version is below the
#                           last release, or when the chart or the app changed since the last
#                           release without a version bump (the chart-testing convention)
#   ci/version.sh current   prints the version
#   ci/version.sh previous  prints "<version> <commit>" of the release before the current
#                           version: the newest tag below it, or, in a history without release
#                           tags, the newest commit whose version differs from the current one
#
# Runs on the git repository of the working directory (REPO_DIR overrides).
set -euo pipefail

# shellcheck source=ci/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

REPO_DIR="${REPO_DIR:-$(git rev-parse --show-toplevel)}"
cd "$REPO_DIR"

# Paths whose change is a change of the release (what the chart and the image contain).
RELEASED_PATHS=(charts/production-api app Dockerfile requirements.lock)

app_version_at() { git show "$1:app/__init__.py" | sed -n 's/^__version__ = "\(.*\)"$/\1/p'; }
chart_field() { sed -n "s/^$1: *\"\{0,1\}\([^\"]*\)\"\{0,1\}$/\1/p" charts/production-api/Chart.yaml; }
current() { sed -n 's/^__version__ = "\(.*\)"$/\1/p' app/__init__.py; }
# version_lt A B: A sorts before B as a version.
version_lt() { [[ "$1" != "$2" && "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n1)" == "$1" ]]; }
last_tag() { git tag --list 'v[0-9]*' --sort=-v:refname | head -n1; }

check() {
  local version chart app_version tag
  version="$(current)"
  chart="$(chart_field version)"
  app_version="$(chart_field appVersion)"
  [[ -n "$version" ]] || die "version: no __version__ in app/__init__.py"
  [[ "$chart" == "$version" && "$app_version" == "$version" ]] ||
    die "version: app/__init__.py says $version, Chart.yaml version $chart and appVersion $app_version: they must agree"
  tag="$(last_tag)"
  if [[ -z "$tag" ]]; then
    echo "version $version (no release yet)"
    return
  fi
  if version_lt "$version" "${tag#v}"; then
    die "version: version $version is below the last release $tag"
  fi
  if [[ "$version" == "${tag#v}" ]] && ! git diff --quiet "$tag" -- "${RELEASED_PATHS[@]}"; then
    die "version: $(git diff --name-only "$tag" -- "${RELEASED_PATHS[@]}" | head -n 5 | paste -sd' ' -) changed since release $tag: bump the version in app/__init__.py and Chart.yaml"
  fi
  echo "version $version (last release $tag)"
}

previous() {
  local version tag
  version="$(current)"
  tag="$(git tag --list 'v[0-9]*' --sort=-v:refname | while read -r t; do
    if version_lt "${t#v}" "$version"; then
      echo "$t"
      break
    fi
  done)"
  if [[ -n "$tag" ]]; then
    printf '%s %s\n' "${tag#v}" "$(git rev-list -n1 "$tag")"
    return
  fi
  [[ "$(git rev-parse --is-shallow-repository)" == false ]] ||
    die "version: a shallow clone has no history to find the previous version in"
  # Not committed yet: the last commit is the previous version.
  if [[ "$(app_version_at HEAD)" != "$version" ]]; then
    printf '%s %s\n' "$(app_version_at HEAD)" "$(git rev-parse HEAD)"
    return
  fi
  # Otherwise the parent of the commit that set the current version.
  local commit parent old
  for commit in $(git rev-list --first-parent HEAD -- app/__init__.py); do
    parent="$(git rev-parse --verify --quiet "$commit^")" || break
    old="$(app_version_at "$parent")"
    if [[ -n "$old" && "$old" != "$version" ]]; then
      printf '%s %s\n' "$old" "$parent"
      return
    fi
  done
  die "version: no earlier version than $version in the history"
}

case "${1:-}" in
  check) check ;;
  current) current ;;
  previous) previous ;;
  *) die --status 2 "usage: ci/version.sh check|current|previous" ;;
esac
