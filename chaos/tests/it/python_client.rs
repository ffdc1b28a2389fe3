//! Toxiproxy's published Python client (`toxiproxy-python` on PyPI) against the `chaos`
//! binary. Skipped with a message when python3 or the client is not installed (`.ci/run`
//! installs it).

use std::process::Command;

use crate::api::Server;

const SCRIPT: &str = r#"
import sys
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer
host, port, upstream = sys.argv[1], int(sys.argv[2]), sys.argv[3]
APIConsumer.host, APIConsumer.port = host, port
server = Toxiproxy()
assert server.running()
proxy = server.create(upstream=upstream, name="redis")
assert proxy.enabled and not proxy.listen.endswith(":0"), proxy.listen
proxy.add_toxic(type="latency", attributes={"latency": 100, "jitter": 5})
toxic = proxy.get_toxic("latency_downstream")
assert toxic is not None and toxic.attributes["latency"] == 100, vars(toxic)
proxy.add_toxic(type="reset_peer", stream="upstream", name="rst", toxicity=0.5)
assert sorted(proxy.toxics()) == ["latency_downstream", "rst"], proxy.toxics()
proxy.destroy_toxic("rst")
with proxy.down():
    assert server.get_proxy("redis").enabled is False
assert server.get_proxy("redis").enabled is True
assert server.reset()
assert proxy.toxics() == {}
populated = server.populate([{"name": "web", "listen": "127.0.0.1:0", "upstream": upstream}])
assert [p.name for p in populated] == ["web"]
assert sorted(server.proxies()) == ["redis", "web"]
server.destroy_all()
assert server.proxies() == {}
print("ok")
"#;

#[test]
fn the_published_python_client_drives_the_api() {
    let present = Command::new("python3")
        .args(["-c", "import toxiproxy"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        eprintln!(
            "skipped: python3 with toxiproxy-python is not installed (pip install toxiproxy-python)"
        );
        return;
    }
    let server = Server::start(&[]);
    let addr = server.base.trim_start_matches("http://");
    let (host, port) = addr.rsplit_once(':').unwrap();
    let out = Command::new("python3")
        .args(["-c", SCRIPT, host, port, "127.0.0.1:9"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("ok"),
        "client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
