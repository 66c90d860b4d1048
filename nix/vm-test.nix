# NixOS VM test (checks.<system>.tinyweb-vm-docker; needs KVM): loads image-tiniest, image-minimal
# and image-stripped into Docker and runs each hardened (read-only root, no capabilities,
# no-new-privileges). Claims: GET / is `Hello, World!`, the healthcheck turns healthy, `docker stop`
# drains in under 2 s, exit 0.
{ testers, image-tiniest, image-minimal, image-stripped }:
testers.runNixOSTest {
  name = "tinyweb-docker";

  nodes.machine = {
    virtualisation.docker.enable = true;
    virtualisation.diskSize = 2048;
    virtualisation.memorySize = 1024;
  };

  testScript = ''
    images = {
        "tiniest": "${image-tiniest}",
        "minimal": "${image-minimal}",
        "stripped": "${image-stripped}",
    }

    machine.wait_for_unit("sockets.target")

    for tag, tarball in images.items():
        with subtest(f"tinyweb:{tag} serves, turns healthy and stops gracefully"):
            machine.succeed(f"docker load --input={tarball}")
            machine.succeed(
                f"docker run -d --name {tag} --read-only --cap-drop ALL"
                f" --security-opt no-new-privileges -p 8000:8000 tinyweb:{tag}"
            )
            machine.wait_until_succeeds("curl -fs http://127.0.0.1:8000/healthz", timeout=30)
            body = machine.succeed("curl -fsS http://127.0.0.1:8000/")
            assert body == "Hello, World!", f"tinyweb:{tag}: GET / returned {body!r}"

            machine.wait_until_succeeds(
                "test \"$(docker inspect -f '{{.State.Health.Status}}' " + tag + ")\" = healthy",
                timeout=30,
            )

            elapsed_ms = int(machine.succeed(
                "start=$(date +%s%N); docker stop " + tag + " >/dev/null;"
                " echo $(( ($(date +%s%N) - start) / 1000000 ))"
            ))
            assert elapsed_ms < 2000, f"tinyweb:{tag}: docker stop took {elapsed_ms} ms"
            exit_code = machine.succeed("docker inspect -f '{{.State.ExitCode}}' " + tag).strip()
            assert exit_code == "0", f"tinyweb:{tag}: exit code {exit_code} after docker stop"
            machine.succeed(f"docker rm {tag}")
  '';
}
