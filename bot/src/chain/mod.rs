//! The chain side: JSON-RPC over WebSocket, orderbook ABI decoding, and gap-free ingestion.

pub mod abi;
pub mod decode;
pub mod ingest;
pub mod log;
pub mod range;
pub mod retry;
pub mod rpc;
pub mod symbols;
