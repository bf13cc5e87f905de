# The Python docker SDK (7.x) against minidocker's daemon; run by
# TestDaemonSDK with the socket's URL. Every check is an assert; the last
# line says "sdk: ok".
import sys

import docker

# version="auto" asks the daemon (GET /version), as the CLI does with /_ping;
# an SDK older than 7 would otherwise speak its default, below our floor.
client = docker.DockerClient(base_url=sys.argv[1], version="auto")
assert client.ping()

# run, collecting output (logs(stream=True) while it runs, then wait and remove)
out = client.containers.run("base", ["sh", "-c", "echo hello; echo oops >&2"], remove=True, network_mode="none")
assert out == b"hello\n", out

ctr = client.containers.run("base", ["sh", "-c", "echo n1; echo n2; exec sleep 1000"],
                            detach=True, name="sdk1", network_mode="none", mem_limit="64m")
assert [c.name for c in client.containers.list()] == ["sdk1"]
assert [c.name for c in client.containers.list(all=True, filters={"name": "sdk", "status": "running"})] == ["sdk1"]
assert ctr.attrs["HostConfig"]["Memory"] == 64 << 20, ctr.attrs["HostConfig"]

seen = b""
for chunk in ctr.logs(stream=True, follow=True):
    seen += chunk
    if b"n2" in seen:
        break
assert seen == b"n1\nn2\n", seen

assert any("base:latest" in i.tags for i in client.images.list())

r = ctr.exec_run(["sh", "-c", "echo exec-out; echo exec-err >&2; exit 4"], demux=True)
assert r.exit_code == 4 and r.output == (b"exec-out\n", b"exec-err\n"), r

ctr.exec_run(["sh", "-c", "echo committed > /marker"])
img = ctr.commit(repository="sdk-commit", tag="v1")
assert img.tags == ["sdk-commit:v1"], img.tags
out = client.containers.run("sdk-commit:v1", ["cat", "/marker"], remove=True, network_mode="none")
assert out == b"committed\n", out

ctr.stop(timeout=0)
assert ctr.wait()["StatusCode"] == 137
ctr.remove()

try:
    client.containers.get("sdk1")
    raise AssertionError("a removed container is still found")
except docker.errors.NotFound:
    pass
print("sdk: ok")
