package app_test

import "os"

func natsURL() string { return os.Getenv("HEARTH_TEST_NATS_URL") }
