# The Python docker SDK (7.x) against minidocker's daemon for pause,
# unpause, put_archive, get_archive, rename, diff and the prunes; run by
# TestDaemonVerbsSDK, which checks the freezer while the script waits on
# stdin after "paused ID PID". The last line says "sdk verbs: ok".
import io
import sys
import tarfile
import time

import docker

client = docker.DockerClient(base_url=sys.argv[1], version="auto")
t0 = int(time.time()) - 1
ctr = client.containers.run("base", ["sleep", "1000"], detach=True, name="sdkv", network_mode="none")

ctr.pause()
ctr.reload()
assert ctr.status == "paused" and ctr.attrs["State"]["Paused"], ctr.attrs["State"]
try:
    ctr.exec_run(["true"])
    raise AssertionError("exec into a paused container was not refused")
except docker.errors.APIError as e:
    assert e.status_code == 409 and "is paused" in str(e), e
print("paused", ctr.id, ctr.attrs["State"]["Pid"], flush=True)
sys.stdin.readline()
ctr.unpause()
ctr.reload()
assert ctr.status == "running" and not ctr.attrs["State"]["Paused"], ctr.attrs["State"]
try:
    ctr.unpause()
    raise AssertionError("unpause of a running container was not refused")
except docker.errors.APIError as e:
    assert e.status_code == 409 and "is not paused" in str(e), e

# put_archive and get_archive, with the stat the SDK reads from the header.
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as tf:
    data = b"put by the sdk"
    info = tarfile.TarInfo("put.txt")
    info.size = len(data)
    tf.addfile(info, io.BytesIO(data))
assert ctr.put_archive("/tmp", buf.getvalue())
stream, stat = ctr.get_archive("/tmp/put.txt")
assert stat["name"] == "put.txt" and stat["size"] == 14, stat
with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tf:
    assert tf.extractfile("put.txt").read() == b"put by the sdk"
try:
    ctr.get_archive("/nope")
    raise AssertionError("get_archive of a missing path did not fail")
except docker.errors.NotFound:
    pass

assert {"Path": "/tmp/put.txt", "Kind": 1} in ctr.diff(), ctr.diff()

ctr.rename("sdkv2")
ctr.reload()
assert ctr.name == "sdkv2", ctr.name

stopped = client.containers.create("base", ["true"], name="sdkgone", network_mode="none")
pruned = client.containers.prune()
assert pruned["ContainersDeleted"] == [stopped.id], pruned
assert [c.name for c in client.containers.list(all=True)] == ["sdkv2"]
assert "ImagesDeleted" in client.images.prune()
# events: what happened to the container, from the log, in order.
events = client.events(since=t0, until=int(time.time()) + 1, decode=True, filters={"container": ctr.id})
actions = [e["Action"] for e in events]
assert actions == ["create", "start", "pause", "unpause", "rename"], actions
print("sdk verbs: ok")
