package app

import "context"

// Bus handlers are registered while New wires the node, before Run has a
// context to give them. They take theirs from the node's life instead: a
// context that New starts (detached from New's own deadline, keeping its
// values) and that ends as soon as Run's context ends or Run returns, or at
// Close. So shutdown cancels what a handler is still doing, and every
// timeout a handler sets is derived from it.

func (a *App) startLife(ctx context.Context) {
	a.life, a.endLife = context.WithCancel(context.WithoutCancel(ctx))
}

// stopLife ends the node's life; safe to call more than once, and on an
// App that New did not build.
func (a *App) stopLife() {
	if a.endLife != nil {
		a.endLife()
	}
}

// lifeCtx is the context for work a bus handler starts.
func (a *App) lifeCtx() context.Context { return a.life }
