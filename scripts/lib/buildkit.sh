# shellcheck shell=bash
# Sourced by the image scripts: `buildkit_docker` prints the docker client that builds with BuildKit.
# Since Docker 23 the CLI builds with BuildKit only through the buildx plugin; clients before 23 carry
# BuildKit themselves (DOCKER_BUILDKIT=1). Machines with a new CLI but no buildx (a distribution's
# docker.io beside a newer static client) still have an old client further down PATH.
buildkit_docker() {
  local client major
  if docker buildx version >/dev/null 2>&1; then
    echo docker
    return
  fi
  while read -r client; do
    major=$("$client" version -f '{{.Client.Version}}' 2>/dev/null | cut -d. -f1)
    if [[ $major =~ ^[0-9]+$ ]] && ((major < 23)); then
      echo "$client"
      return
    fi
  done < <(type -ap docker)
  echo "no docker client can build with BuildKit: install the buildx plugin" >&2
  return 1
}
