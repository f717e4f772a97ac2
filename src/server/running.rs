//! [`Running`]: a sandbank serving on a listener in the background, stopped when dropped.

use super::{run_configured, ServerLimits};
use crate::control::guard::Access;
use crate::scenario::WorldSpec;
use crate::world::Sandbank;
use std::sync::Arc;
use tokio::net::TcpListener;

/// A sandbank serving on a listener in the background, stopped when dropped (as wiremock's
/// `MockServer` is). The server, the harness and the tests all start one this way.
#[derive(Debug)]
pub struct Running {
    addr: std::net::SocketAddr,
    sb: Arc<Sandbank>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Running {
    /// Serve a world built from `spec` on `listener` (bind `127.0.0.1:0` for a free port).
    /// Needs a tokio runtime.
    pub fn start(listener: TcpListener, spec: WorldSpec) -> std::io::Result<Running> {
        Running::start_configured(listener, spec, ServerLimits::default(), Access::default())
    }

    /// [`Running::start`] with these limits.
    pub fn start_with_limits(
        listener: TcpListener,
        spec: WorldSpec,
        limits: ServerLimits,
    ) -> std::io::Result<Running> {
        Running::start_configured(listener, spec, limits, Access::default())
    }

    /// [`Running::start`], with the control API guarded by `access` (allowed host names,
    /// a token).
    pub fn start_with(
        listener: TcpListener,
        spec: WorldSpec,
        access: Access,
    ) -> std::io::Result<Running> {
        Running::start_configured(listener, spec, ServerLimits::default(), access)
    }

    /// [`Running::start`] with these limits and this guard on the control API.
    pub fn start_configured(
        listener: TcpListener,
        spec: WorldSpec,
        limits: ServerLimits,
        access: Access,
    ) -> std::io::Result<Running> {
        let addr = listener.local_addr()?;
        let sb = Sandbank::start(spec);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(run_configured(
            listener,
            sb.clone(),
            async move {
                let _ = stopped.await;
            },
            limits,
            access,
        ));
        Ok(Running {
            addr,
            sb,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    /// `http://{addr}` with no trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The world it serves.
    pub fn sandbank(&self) -> &Arc<Sandbank> {
        &self.sb
    }

    /// Stop serving and wait until the server has shut down (open exchanges get up to
    /// [`super::SHUTDOWN_GRACE`]).
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.unwrap_or(Ok(())),
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        // Release anything hanging at once; the task then winds down on its own.
        self.sb.shutdown();
    }
}
