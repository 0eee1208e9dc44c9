package live

import (
	"testing"
)

func TestComputeHealth(t *testing.T) {
	t.Parallel()
	clean := func(bw float64) PlaybackReport {
		return PlaybackReport{Bandwidth: bw, Latency: 4, DownloadDuration: 0.5}
	}
	failing := func(bw float64) PlaybackReport {
		return PlaybackReport{Bandwidth: bw, Latency: 4, DownloadDuration: 0.5, Errors: 2}
	}
	cpu := func(vs ...int) []Sample {
		out := make([]Sample, len(vs))
		for i, v := range vs {
			out[i] = Sample{Value: v}
		}
		return out
	}
	x264 := []Variant{{VideoBitrate: 1200}}
	cases := []struct {
		name string
		in   healthInput
		want *StreamHealth
	}{
		{"no viewers", healthInput{viewers: 0, reports: []PlaybackReport{clean(5000)}, variants: x264, level: 2}, nil},
		{"no reports", healthInput{viewers: 3, variants: x264, level: 2}, nil},
		{"all well", healthInput{viewers: 4, reports: []PlaybackReport{clean(5000), clean(3000)}, variants: x264, level: 2},
			&StreamHealth{Healthy: true, HealthPercentage: 100, Representation: 50}},
		{"errors report only", healthInput{viewers: 2, reports: []PlaybackReport{{Errors: 0}, {Errors: 0}}, variants: x264, level: 2},
			&StreamHealth{Healthy: true, HealthPercentage: 100}},
		{"one of four failing is not healthy (75 % is not above 75 %)",
			healthInput{viewers: 4, reports: []PlaybackReport{failing(5000), clean(5000), clean(5000), clean(5000)}, variants: x264, level: 2},
			&StreamHealth{Healthy: false, HealthPercentage: 75, Representation: 100,
				Message: "1 of 4 viewers (25%) may be experiencing some issues."}},
		{"one of five failing is healthy",
			healthInput{viewers: 5, reports: []PlaybackReport{failing(5000), clean(5000), clean(5000), clean(5000), clean(5000)}, variants: x264, level: 2},
			&StreamHealth{Healthy: true, HealthPercentage: 80, Representation: 100,
				Message: "1 of 5 viewers (20%) may be experiencing some issues."}},
		{"errors with fewer than three players give no message",
			healthInput{viewers: 2, reports: []PlaybackReport{failing(5000), clean(5000)}, variants: x264, level: 2},
			&StreamHealth{Healthy: false, HealthPercentage: 50, Representation: 100}},
		{"every player failing",
			healthInput{viewers: 1, reports: []PlaybackReport{failing(5000)}, variants: x264, level: 2},
			&StreamHealth{Healthy: false, HealthPercentage: 0, Representation: 100}},
		{"errors with a passthrough output",
			healthInput{viewers: 3, reports: []PlaybackReport{failing(5000), failing(5000), clean(5000)},
				variants: []Variant{{VideoPassthrough: true}, {VideoBitrate: 800}}, level: 2},
			&StreamHealth{Healthy: false, HealthPercentage: 34, Representation: 100,
				Message: "2 of 3 viewers (66%) are experiencing errors. You're currently using a video passthrough output, often known for causing playback issues for people. It is suggested you turn it off."}},
		{"errors with short segments",
			healthInput{viewers: 3, reports: []PlaybackReport{failing(5000), clean(5000), clean(5000)}, variants: x264, level: 1},
			&StreamHealth{Healthy: false, HealthPercentage: 67, Representation: 100,
				Message: "1 of 3 viewers (33%) may be experiencing some issues. You may want to increase your latency buffer level in your video configuration to see if it helps."}},
		{"players slower than the lowest bitrate (plus 10 %)",
			healthInput{viewers: 4, reports: []PlaybackReport{clean(1000), clean(1300), clean(5000), {}},
				variants: []Variant{{VideoBitrate: 3000}, {VideoBitrate: 1200}}, level: 2},
			&StreamHealth{Healthy: true, HealthPercentage: 100, Representation: 75,
				Message: "2 of 3 viewers (66%) are consuming video slower than, or too close to your bitrate of 1200 kbps."}},
		{"high CPU comes before slow players",
			healthInput{viewers: 1, reports: []PlaybackReport{clean(500)}, variants: x264, level: 2, cpu: cpu(10, 95, 91)},
			&StreamHealth{Healthy: true, HealthPercentage: 100, Representation: 100,
				Message: "The CPU usage on your server is over 90%. This may cause video to be provided slower than necessary, causing buffering for your viewers. Consider increasing the resources available or reducing the number of output variants you made available."}},
		{"one high CPU sample is not enough",
			healthInput{viewers: 1, reports: []PlaybackReport{clean(5000)}, variants: x264, level: 2, cpu: cpu(99)},
			&StreamHealth{Healthy: true, HealthPercentage: 100, Representation: 100}},
		{"inbound bitrate above every output while the CPU is busy",
			healthInput{viewers: 1, reports: []PlaybackReport{clean(5000)}, variants: x264, level: 2, inbound: 6000, cpu: cpu(85, 84)},
			&StreamHealth{Healthy: true, HealthPercentage: 100, Representation: 100,
				Message: "You're streaming to Owncast at 6000kbps but only broadcasting to your viewers at 1200kbps, requiring unnecessary work to be performed and possible excessive CPU use. You may want to decrease what you're sending to Owncast or increase what you send to your viewers so the highest bitrate matches."}},
		{"inbound bitrate above the outputs with an idle CPU",
			healthInput{viewers: 1, reports: []PlaybackReport{clean(5000)}, variants: x264, level: 2, inbound: 6000, cpu: cpu(20, 30)},
			&StreamHealth{Healthy: true, HealthPercentage: 100, Representation: 100}},
		{"a passthrough output wastes nothing",
			healthInput{viewers: 1, reports: []PlaybackReport{clean(5000)}, variants: []Variant{{VideoPassthrough: true}, {VideoBitrate: 1200}},
				level: 2, inbound: 6000, cpu: cpu(85, 85)},
			&StreamHealth{Healthy: true, HealthPercentage: 100, Representation: 100}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got := computeHealth(c.in)
			switch {
			case c.want == nil && got == nil:
			case c.want == nil || got == nil:
				t.Fatalf("got %+v, want %+v", got, c.want)
			case *got != *c.want:
				t.Fatalf("got  %+v\nwant %+v", *got, *c.want)
			}
		})
	}
}

func TestMinMedMax(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in          []float64
		lo, med, hi float64
	}{
		{nil, 0, 0, 0},
		{[]float64{3}, 3, 3, 3},
		{[]float64{5, 1, 3}, 1, 3, 5},
		{[]float64{4, 1, 3, 2}, 1, 2.5, 4},
	}
	for _, c := range cases {
		lo, med, hi := minMedMax(c.in)
		if lo != c.lo || med != c.med || hi != c.hi {
			t.Errorf("minMedMax(%v) = %v %v %v, want %v %v %v", c.in, lo, med, hi, c.lo, c.med, c.hi)
		}
	}
}
