package store

// CrashAfterClaim returns q with f run inside AddDeliveriesOnce's
// transaction, between the event's claim and its deliveries: f's error
// stands for the node dying there.
func CrashAfterClaim(q *WebhookQueue, f func() error) *WebhookQueue {
	return &WebhookQueue{db: q.db, afterClaim: f}
}
