//! OCI images' sans-IO parts: [`locate`] (index, manifest, config,
//! digests), [`tarlayer`] (a layer blob's tar entries), [`layers`]
//! (applying them with whiteouts), [`runspec`] (Entrypoint, Cmd, Env,
//! WorkingDir, User as init's settings).

pub mod layers;
pub mod locate;
pub mod runspec;
pub mod tarlayer;
