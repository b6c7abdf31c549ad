package e2e_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/nyaruka/phonenumbers"
	"github.com/redis/go-redis/v9"

	"github.com/go2fa/go2fa/internal/testclock"
	"github.com/go2fa/go2fa/otp"
	"github.com/go2fa/go2fa/sender"
	"github.com/go2fa/go2fa/store"
	"github.com/go2fa/go2fa/store/memstore"
)

// simCountry is one destination country of the simulation: its share of
// legitimate traffic, how often its users enter the code, and an
// illustrative price per SMS in US dollars (the order of magnitude of
// public price lists, not any provider's tariff).
type simCountry struct {
	region string
	weight int
	conv   float64
	price  float64
}

var simCountries = []simCountry{
	{"US", 30, 0.88, 0.008}, {"GB", 10, 0.86, 0.040}, {"DE", 8, 0.85, 0.090},
	{"FR", 8, 0.84, 0.080}, {"IN", 12, 0.72, 0.004}, {"BR", 8, 0.75, 0.030},
	{"MX", 6, 0.78, 0.040}, {"ES", 4, 0.82, 0.070}, {"IT", 4, 0.80, 0.080},
	{"NG", 3, 0.70, 0.120}, {"ID", 3, 0.74, 0.350}, {"PH", 3, 0.76, 0.180},
	{"TR", 3, 0.79, 0.050}, {"JP", 3, 0.90, 0.070}, {"AU", 3, 0.87, 0.050},
	{"ZA", 2, 0.77, 0.030}, {"KZ", 1, 0.71, 0.280}, {"UZ", 1, 0.70, 0.250},
	{"LK", 1, 0.72, 0.300}, {"EG", 2, 0.73, 0.150},
}

func simPrice(region string) float64 {
	for _, c := range simCountries {
		if c.region == region {
			return c.price
		}
	}
	return 0.1
}

// simBackend is a store whose clock follows the simulation's.
type simBackend struct {
	name string
	open func(t *testing.T, clk *clock) (store.Store, func(time.Time))
}

func simBackends() []simBackend {
	return []simBackend{
		{"memstore", func(t *testing.T, clk *clock) (store.Store, func(time.Time)) {
			s := memstore.New(memstore.WithClock(clk.Now))
			t.Cleanup(func() { s.Close() })
			return s, func(time.Time) {}
		}},
		{"miniredis", func(t *testing.T, clk *clock) (store.Store, func(time.Time)) {
			if raceEnabled {
				t.Skip("-race: skipping the simulation on miniredis (minutes under the race detector); the run without -race covers it")
			}
			m := miniredis.RunT(t)
			m.SetTime(clk.Now())
			last := clk.Now()
			return redisStore(t, redis.NewClient(&redis.Options{Addr: m.Addr()})), func(now time.Time) {
				m.SetTime(now)
				// FastForward visits every key: move TTLs every 30
				// simulated seconds, which only lets codes live up to
				// 30 s longer than their lifetime.
				if d := now.Sub(last); d >= 30*time.Second {
					m.FastForward(d)
					last = now
				}
			}
		}},
		{"redis", func(t *testing.T, clk *clock) (store.Store, func(time.Time)) {
			u := os.Getenv("REDIS_URL")
			if u == "" {
				t.Skip("REDIS_URL not set: skipping the simulation on a real redis-server")
			}
			opt, err := redis.ParseURL(u)
			if err != nil {
				t.Fatalf("REDIS_URL: %v", err)
			}
			// The pumping counters follow the simulated clock (the caller
			// picks their buckets); the server's own clock drives the
			// code lifetimes, which the simulation never waits out.
			return redisStore(t, redis.NewClient(opt)), func(time.Time) {}
		}},
	}
}

// simNumbers makes valid numbers of one country.
type simNumbers struct {
	rng *rand.Rand
}

// random returns a valid number of region whose national number keeps the
// first keep digits of the region's example mobile number.
func (g simNumbers) random(t *testing.T, region string, keep int) string {
	t.Helper()
	ex := phonenumbers.GetExampleNumberForType(region, phonenumbers.MOBILE)
	if ex == nil {
		t.Fatalf("no example mobile number for %s", region)
	}
	cc := strconv.Itoa(int(ex.GetCountryCode()))
	nsn := phonenumbers.GetNationalSignificantNumber(ex)
	for range 200 {
		b := []byte(nsn)
		for i := keep; i < len(b); i++ {
			b[i] = "0123456789"[g.rng.IntN(10)]
		}
		n := "+" + cc + string(b)
		if num, err := otp.ParseNumber(n, ""); err == nil && num.E164 == n {
			return n
		}
	}
	return "+" + cc + nsn
}

// sequential returns n consecutive valid numbers starting at a random
// number of region (the last five digits count up).
func (g simNumbers) sequential(t *testing.T, region string, n int) []string {
	t.Helper()
	start := g.random(t, region, 3)
	head, tail := start[:len(start)-5], start[len(start)-5:]
	first, _ := strconv.Atoi(tail)
	first %= 100000 - n
	var out []string
	for i := 0; len(out) < n && i < 100000; i++ {
		num := fmt.Sprintf("%s%05d", head, first+i)
		if _, err := otp.ParseNumber(num, ""); err == nil {
			out = append(out, num)
		}
	}
	return out
}

// codeBook is a Sender that keeps the last code sent to each number, as a
// user's phone would.
type codeBook struct {
	mu    sync.Mutex
	codes map[string]string
}

func (c *codeBook) Send(_ context.Context, m sender.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.codes == nil {
		c.codes = make(map[string]string)
	}
	c.codes[m.To] = m.Code
	return nil
}

func (c *codeBook) code(to string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.codes[to]
}

// simEvent is one step of a simulation.
type simEvent struct {
	at     time.Duration
	attack bool
	check  bool // a user entering the code (legitimate only)
	to     string
	ip     string
	region string
}

// simResult are the figures of one run.
type simResult struct {
	legit, legitBlocked       int
	attack, attackBlocked     int
	attackAfter, blockedAfter int // after the first 50 attack sends
	campaign, campaignBlocked int
	spent, saved, legitLost   float64
	tripped                   []string
	// maxSends is the most recent sends any prefix had when judged
	// (sampled every 100 sends).
	maxSends int64
}

// countJudged reports whether some prefix reached MinSends (20).
func countJudged(r simResult) int64 {
	if r.maxSends >= 20 {
		return r.maxSends
	}
	return 0
}

func (r simResult) attackRate() float64 {
	return float64(r.blockedAfter) / float64(max(r.attackAfter, 1))
}
func (r simResult) legitRate() float64 { return float64(r.legitBlocked) / float64(max(r.legit, 1)) }

// simScenario describes the traffic of one run.
type simScenario struct {
	seed     uint64
	duration time.Duration
	// legitPerMinute sends of legitimate users across simCountries.
	legitPerMinute float64
	// attacks: bursts of sequential numbers in one region each.
	attacks []simAttack
	// campaign: a surge of legitimate sends in one region.
	campaign *simCampaign
	// policy is the Verifier's policy (the zero Policy: defaults).
	policy otp.Policy
	// observer receives the Verifier's events.
	observer otp.Observer
}

type simAttack struct {
	region     string
	start      time.Duration
	every      time.Duration // between bursts
	burst      int           // sends per burst
	perMinute  float64       // rate within a burst
	sendsPerIP int           // sends before the ring moves to a fresh IP
}

type simCampaign struct {
	region    string
	start     time.Duration
	length    time.Duration
	perMinute float64
}

// run plays sc against a Verifier on the store b opens.
func (sc simScenario) run(t *testing.T, b simBackend) simResult {
	t.Helper()
	clk := testclock.At(time.Date(2030, 3, 4, 0, 0, 0, 0, time.UTC))
	st, setTime := b.open(t, clk)
	book := &codeBook{}
	v, err := otp.NewVerifier(otp.Config{Store: st, Sender: book, Secret: testSecret, Policy: sc.policy, Now: clk.Now, Observer: sc.observer})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(sc.seed, sc.seed^0x9e3779b97f4a7c15)) //nolint:gosec // a seeded, reproducible simulation
	gen := simNumbers{rng: rng}
	var events []simEvent
	total := 0
	for _, c := range simCountries {
		total += c.weight
	}
	pick := func() simCountry {
		n := rng.IntN(total)
		for _, c := range simCountries {
			if n -= c.weight; n < 0 {
				return c
			}
		}
		return simCountries[0]
	}
	user := 0
	used := map[string]bool{}
	legit := func(at time.Duration, c simCountry) {
		user++
		to := gen.random(t, c.region, 2)
		for used[to] {
			to = gen.random(t, c.region, 2)
		}
		used[to] = true
		ip := "legit-" + strconv.Itoa(user)
		events = append(events, simEvent{at: at, to: to, ip: ip, region: c.region})
		if rng.Float64() < c.conv {
			// Most users type the code within a minute; a few take longer.
			delay := time.Duration(8+rng.ExpFloat64()*25) * time.Second
			events = append(events, simEvent{at: at + min(delay, 4*time.Minute), check: true, to: to, region: c.region})
		}
	}
	n := int(sc.legitPerMinute * sc.duration.Minutes())
	for range n {
		legit(time.Duration(rng.Int64N(int64(sc.duration))), pick())
	}
	campaignStart := len(events)
	if cp := sc.campaign; cp != nil {
		var c simCountry
		for _, x := range simCountries {
			if x.region == cp.region {
				c = x
			}
		}
		for range int(cp.perMinute * cp.length.Minutes()) {
			legit(cp.start+time.Duration(rng.Int64N(int64(cp.length))), c)
		}
	}
	campaignEnd := len(events)
	isCampaign := map[string]bool{}
	for _, e := range events[campaignStart:campaignEnd] {
		isCampaign[e.to] = true
	}
	bots := 0
	for _, a := range sc.attacks {
		// One range of consecutive numbers per attack, walked burst after
		// burst: the few prefixes a colluding carrier controls.
		bursts := int((sc.duration-a.start)/a.every) + 1
		nums := gen.sequential(t, a.region, a.burst*bursts)
		for at := a.start; at < sc.duration && len(nums) >= a.burst; at += a.every {
			burst := nums[:a.burst]
			nums = nums[a.burst:]
			for i, to := range burst {
				bots++
				events = append(events, simEvent{
					at:     at + time.Duration(float64(i)/a.perMinute*float64(time.Minute)),
					attack: true, to: to, region: a.region,
					ip: "bot-" + strconv.Itoa(bots/a.sendsPerIP),
				})
			}
		}
	}
	slices.SortStableFunc(events, func(x, y simEvent) int { return cmp.Compare(x.at, y.at) })

	ctx := t.Context()
	start := clk.Now()
	var r simResult
	sent := map[string]bool{}
	for _, e := range events {
		now := start.Add(e.at)
		if e.at > sc.duration {
			break
		}
		clk.Set(now)
		setTime(now)
		if e.check {
			if !sent[e.to] {
				continue // the user never got a code
			}
			res, err := v.Check(ctx, e.to, book.code(e.to))
			if err != nil {
				t.Fatalf("check: %v", err)
			}
			if res.Status != otp.Approved {
				t.Fatalf("a user's code was %s", res.Status)
			}
			if err := v.Flush(ctx); err != nil {
				t.Fatal(err)
			}
			continue
		}
		_, err := v.Start(ctx, e.to, sender.SMS, otp.WithLimitKey(e.ip))
		blocked := errors.Is(err, otp.ErrThrottled)
		if err != nil && !blocked {
			t.Fatalf("start (attack %v): %v", e.attack, err)
		}
		sent[e.to] = !blocked
		if (r.legit+r.attack)%100 == 0 {
			for _, st := range v.PumpingState() {
				r.maxSends = max(r.maxSends, st.Sends)
			}
		}
		price := simPrice(e.region)
		switch {
		case e.attack:
			r.attack++
			if r.attack > 50 {
				r.attackAfter++
			}
			if blocked {
				r.attackBlocked++
				r.saved += price
				if r.attack > 50 {
					r.blockedAfter++
				}
			} else {
				r.spent += price
			}
		default:
			r.legit++
			if isCampaign[e.to] {
				r.campaign++
			}
			if blocked {
				r.legitBlocked++
				r.legitLost += price
				if isCampaign[e.to] {
					r.campaignBlocked++
				}
			}
		}
	}
	for _, s := range v.PumpingState() {
		if s.Throttled || s.Reason != "" {
			r.tripped = append(r.tripped, fmt.Sprintf("%s (%s, rate %.2f, baseline %.2f)", s.Prefix, s.Reason, s.Rate, s.Baseline))
		}
	}
	return r
}

func (r simResult) log(t *testing.T, name string) {
	t.Helper()
	t.Logf("%s: legitimate sends %d, blocked %d (%.2f%%); campaign sends %d, blocked %d",
		name, r.legit, r.legitBlocked, 100*r.legitRate(), r.campaign, r.campaignBlocked)
	t.Logf("%s: attack sends %d, blocked %d; after the first 50: %d of %d blocked (%.1f%%)",
		name, r.attack, r.attackBlocked, r.blockedAfter, r.attackAfter, 100*r.attackRate())
	t.Logf("%s: money saved $%.2f, attack sends paid $%.2f, legitimate sends lost $%.2f; prefixes throttled: %s",
		name, r.saved, r.spent, r.legitLost, strings.Join(r.tripped, "; "))
}

// defaultAttackScenario: four hours of legitimate traffic in twenty
// countries (70–90% conversion), and a pumping ring hitting three prefixes
// in expensive countries with bursts of 150 sends to consecutive numbers,
// from a fresh IP every three sends, never entering a code.
func defaultAttackScenario() simScenario {
	return simScenario{
		seed:           19,
		duration:       4 * time.Hour,
		legitPerMinute: 20,
		attacks: []simAttack{
			{region: "UZ", start: 20 * time.Minute, every: 40 * time.Minute, burst: 150, perMinute: 15, sendsPerIP: 3},
			{region: "ID", start: 35 * time.Minute, every: 30 * time.Minute, burst: 150, perMinute: 20, sendsPerIP: 3},
			{region: "LK", start: 50 * time.Minute, every: 45 * time.Minute, burst: 150, perMinute: 10, sendsPerIP: 3},
		},
	}
}

// TestPumpingSimulation runs the pumping simulation with the default
// policy on every store and prints what the guard blocked and saved:
//
//	go test ./otp -run TestPumpingSimulation -v
func TestPumpingSimulation(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the pumping simulation")
	}
	for _, b := range simBackends() {
		t.Run(b.name, func(t *testing.T) {
			r := defaultAttackScenario().run(t, b)
			r.log(t, b.name)
			if r.attackRate() < 0.95 {
				t.Errorf("%.1f%% of attack sends after the first 50 blocked, want at least 95%%", 100*r.attackRate())
			}
			if r.legitRate() > 0.005 {
				t.Errorf("%.2f%% of legitimate sends blocked, want at most 0.5%%", 100*r.legitRate())
			}
		})
	}
}

// TestPumpingSimulationDisabled is the control: the same traffic with the
// guard turned off blocks nothing, so the figures above are the guard's.
func TestPumpingSimulationDisabled(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the pumping simulation")
	}
	sc := defaultAttackScenario()
	sc.policy.Pumping.Disabled = true
	r := sc.run(t, simBackends()[0])
	r.log(t, "disabled")
	if r.attackBlocked != 0 || r.legitBlocked != 0 {
		t.Errorf("with the guard off, %d attack and %d legitimate sends were blocked, want 0", r.attackBlocked, r.legitBlocked)
	}
}

// TestPumpingCampaignNotBlocked: a marketing campaign multiplies one
// country's sends for twelve minutes (250 a minute, against about one:
// about 25 sends per prefix per Window, enough to be judged); its users convert as usual
// and none of them is refused.
func TestPumpingCampaignNotBlocked(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the pumping simulation")
	}
	for _, b := range simBackends()[:2] {
		t.Run(b.name, func(t *testing.T) {
			sc := simScenario{
				seed: 7, duration: 75 * time.Minute, legitPerMinute: 10,
				campaign: &simCampaign{region: "GB", start: 30 * time.Minute, length: 12 * time.Minute, perMinute: 250},
			}
			r := sc.run(t, b)
			r.log(t, b.name)
			if r.campaign < 3000 {
				t.Fatalf("campaign of %d sends, want at least 3000", r.campaign)
			}
			if judged := countJudged(r); judged == 0 {
				t.Fatal("no campaign prefix reached MinSends: the test judged nothing")
			}
			if r.legitBlocked != 0 {
				t.Errorf("%d legitimate sends blocked (%d of the campaign), want 0", r.legitBlocked, r.campaignBlocked)
			}
		})
	}
}
