namespace Dotcd.Raft.Confchange;

/// <summary>A configuration change that etcd's raft refuses; the message is etcd's.</summary>
internal sealed class ConfChangeException(string message) : Exception(message);
