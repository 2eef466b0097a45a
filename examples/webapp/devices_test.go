package main

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authix-go/authix"
)

// User-Agents of real browsers, as they send them.
const (
	firefoxLinux  = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
	safariIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	headlessLinux = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36"
)

func TestDeviceLabel(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, userAgent, want string }{
		{"Firefox on Linux", firefoxLinux, "Firefox on Linux"},
		{"Safari on an iPhone", safariIPhone, "Safari on iOS"},
		{"headless Chromium", headlessLinux, "Chrome on Linux"},
		{"Chrome on Android", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36", "Chrome on Android"},
		{"Edge on Windows", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0", "Edge on Windows"},
		{"Safari on a Mac", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15", "Safari on macOS"},
		{"Firefox on an iPad", "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/127.0 Mobile/15E148 Safari/605.1.15", "Firefox on iPadOS"},
		{"curl", "curl/8.5.0", "curl"},
		{"a system alone", "Something (Windows NT 10.0)", "A browser on Windows"},
		{"Go's client", "Go-http-client/1.1", "Unknown device"},
		{"none", "", "Unknown device"},
		{"markup", `<script>alert(1)</script>`, "Unknown device"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := deviceLabel(tt.userAgent); got != tt.want {
				t.Fatalf("deviceLabel(%q) = %q, want %q", tt.userAgent, got, tt.want)
			}
		})
	}
}

// device is a row of the devices page.
type device struct {
	id, label, started, lastActive, ends, remembered string
	current                                          bool
}

var (
	rowRE  = regexp.MustCompile(`(?s)<tr( id="current")?>\s*<td class="label">([^<]*)(?:<br><span class="current">this device</span>)?</td>\s*<td[^>]*>([^<]*)</td>\s*<td[^>]*>([^<]*)</td>\s*<td[^>]*>([^<]*)</td>\s*<td>([^<]*)</td>\s*<td>(.*?)</td>\s*</tr>`)
	formID = regexp.MustCompile(`name="id" value="([^"]+)"`)
)

// devices gets the devices page and returns its rows, failing the test
// unless it is shown.
func (c *client) devices() []device {
	c.t.Helper()
	r := c.get("/devices")
	if r.status != http.StatusOK {
		c.t.Fatalf("/devices: %d to %q, want 200\n%s", r.status, r.header.Get("Location"), r.body)
	}
	var out []device
	for _, m := range rowRE.FindAllStringSubmatch(r.body, -1) {
		d := device{current: m[1] != "", label: m[2], started: m[3], lastActive: m[4], ends: m[5], remembered: m[6]}
		if id := formID.FindStringSubmatch(m[7]); id != nil {
			d.id = id[1]
		}
		if d.current != strings.Contains(m[0], "this device") || d.current == (d.id != "") {
			c.t.Fatalf("row %q: this device and the end button go together wrongly", m[0])
		}
		out = append(out, d)
	}
	if got, want := len(out), strings.Count(r.body, "<tr")-1; got != want {
		c.t.Fatalf("/devices: read %d rows of %d\n%s", got, want, r.body)
	}
	return out
}

func TestDevicesPage(t *testing.T) {
	t.Parallel()
	clk := new(fakeClock)
	_, srv := startApp(t, nil, authix.WithClock(clk.now))
	laptop, phone, bob := newClient(t, srv), newClient(t, srv), newClient(t, srv)
	laptop.login("alice", "wonderland", false, "User-Agent", firefoxLinux)
	clk.advance(time.Minute)
	phone.login("alice", "wonderland", true, "User-Agent", safariIPhone)
	bob.login("bob", "builder", false)

	page := laptop.get("/devices")
	for _, leak := range []string{"Mozilla", "Gecko", "127.0.0.1", "Go-http-client"} {
		if strings.Contains(page.body, leak) {
			t.Fatalf("the devices page shows %q: only the short label may be kept\n%s", leak, page.body)
		}
	}
	if !strings.Contains(page.body, "neither the browser's full User-Agent nor the IP address is kept") {
		t.Fatalf("the devices page does not say what it keeps:\n%s", page.body)
	}
	start := clockStart
	want := []device{ // most recently active first
		{label: "Safari on iOS", started: when(start.Add(time.Minute)), lastActive: when(start.Add(time.Minute)), ends: when(start.Add(time.Minute + rememberMe)), remembered: "yes"},
		{label: "Firefox on Linux", started: when(start), lastActive: when(start), ends: when(start.Add(sessionLifetime)), remembered: "no", current: true},
	}
	got := laptop.devices()
	want[0].id = got[0].id
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] || got[0].id == "" {
		t.Fatalf("the laptop's devices:\n got %+v\nwant %+v", got, want)
	}
	if phoneView := phone.devices(); len(phoneView) != 2 || !phoneView[0].current || phoneView[1].current {
		t.Fatalf("the phone's devices: %+v, want the phone first and marked", phoneView)
	}
	bobView := bob.devices()
	if len(bobView) != 1 || bobView[0].label != "Unknown device" || !bobView[0].current {
		t.Fatalf("bob's devices: %+v, want his one session", bobView)
	}

	t.Run("a renewal moves last active", func(t *testing.T) {
		clk.advance(6 * time.Minute) // past the renewal age
		wantStatus(t, "the phone's /account", phone.get("/account"), http.StatusOK, "")
		// The laptop's own request renews it too: the two may tie.
		got := laptop.devices()
		i := slices.IndexFunc(got, func(d device) bool { return d.label == "Safari on iOS" })
		if i < 0 || got[i].lastActive != when(start.Add(7*time.Minute)) {
			t.Fatalf("after the phone's renewal: %+v, want the phone active at %s", got, when(start.Add(7*time.Minute)))
		}
	})

	t.Run("ending another user's session does nothing", func(t *testing.T) {
		other := bob.devices()[0]
		// bob's own page has no button for his session: post its id as alice.
		r := laptop.post("/devices/end", url.Values{"id": {other.id}})
		wantStatus(t, "alice ends bob's session", r, http.StatusSeeOther, "/devices")
		wantStatus(t, "bob's /account", bob.get("/account"), http.StatusOK, "")
	})
	t.Run("a cross-site form ends nothing", func(t *testing.T) {
		r := laptop.post("/devices/end", url.Values{"id": {want[0].id}}, "Sec-Fetch-Site", "cross-site")
		wantStatus(t, "cross-site end", r, http.StatusForbidden, "")
		r = laptop.post("/devices/end-others", nil, "Sec-Fetch-Site", "cross-site")
		wantStatus(t, "cross-site end others", r, http.StatusForbidden, "")
		wantStatus(t, "the phone's /account", phone.get("/account"), http.StatusOK, "")
	})

	t.Run("end one", func(t *testing.T) {
		r := laptop.post("/devices/end", url.Values{"id": {want[0].id}})
		wantStatus(t, "end the phone", r, http.StatusSeeOther, "/devices")
		wantStatus(t, "the phone's /account", phone.get("/account"), http.StatusSeeOther, "/login?next=%2Faccount")
		if got := laptop.devices(); len(got) != 1 || !got[0].current {
			t.Fatalf("after ending the phone: %+v, want the laptop alone", got)
		}
		wantStatus(t, "the laptop's /account", laptop.get("/account"), http.StatusOK, "")
	})
}

func TestEndOtherDevices(t *testing.T) {
	t.Parallel()
	_, srv := startApp(t, nil)
	laptop, phone, tablet := newClient(t, srv), newClient(t, srv), newClient(t, srv)
	laptop.login("alice", "wonderland", false)
	phone.login("alice", "wonderland", true)
	tablet.login("alice", "wonderland", false)
	apiToken := apiLogin(t, newClient(t, srv), "alice", "wonderland", "User-Agent", "curl/8.5.0")
	bob := newClient(t, srv)
	bob.login("bob", "builder", false)

	list := laptop.devices()
	labels := make([]string, 0, len(list))
	for _, d := range list {
		labels = append(labels, d.label)
	}
	if len(list) != 4 || !strings.Contains(strings.Join(labels, ","), "API: curl") {
		t.Fatalf("alice's devices: %+v, want four with the API token's", list)
	}
	page := laptop.get("/devices")
	if !strings.Contains(page.body, `id="end-others"`) {
		t.Fatalf("no end-others button:\n%s", page.body)
	}

	wantStatus(t, "end all others", laptop.post("/devices/end-others", nil), http.StatusSeeOther, "/devices")
	for name, c := range map[string]*client{"phone": phone, "tablet": tablet} {
		wantStatus(t, "the "+name+"'s /account", c.get("/account"), http.StatusSeeOther, "/login?next=%2Faccount")
	}
	if r := newClient(t, srv).get("/api/me", "Authorization", "Bearer "+apiToken); r.status != http.StatusUnauthorized {
		t.Fatalf("the API token after end-others: %d, want 401", r.status)
	}
	wantStatus(t, "the laptop's /account", laptop.get("/account"), http.StatusOK, "")
	wantStatus(t, "bob's /account", bob.get("/account"), http.StatusOK, "")
	if got := laptop.devices(); len(got) != 1 || !got[0].current {
		t.Fatalf("after end-others: %+v, want this device alone", got)
	}
	if page := laptop.get("/devices"); strings.Contains(page.body, `id="end-others"`) {
		t.Fatalf("an end-others button with no other session:\n%s", page.body)
	}
}

func TestDevicesNeedLogin(t *testing.T) {
	t.Parallel()
	_, srv := startApp(t, nil)
	c := newClient(t, srv)
	wantStatus(t, "anonymous /devices", c.get("/devices"), http.StatusSeeOther, "/login?next=%2Fdevices")
	for _, path := range []string{"/devices/end", "/devices/end-others"} {
		wantStatus(t, "anonymous POST "+path, c.post(path, url.Values{"id": {"x"}}), http.StatusUnauthorized, "")
	}
}

// subjectStore revokes subjects but keeps no devices, as redisstore did
// before it kept them.
type subjectStore struct {
	authix.RevocationStore
	authix.SubjectStore
}

func TestStoreWithoutDevices(t *testing.T) {
	t.Parallel()
	m := authix.NewMemoryStore(nil)
	a, srv := startApp(t, subjectStore{m, m})
	if a.devices || !a.everywhere {
		t.Fatalf("devices %v, everywhere %v; want only log out everywhere", a.devices, a.everywhere)
	}
	c := newClient(t, srv)
	c.login("alice", "wonderland", false)
	acc := c.get("/account")
	if strings.Contains(acc.body, `href="/devices"`) || !strings.Contains(acc.body, `href="/password"`) {
		t.Fatalf("/account: want a change-password link and no devices link:\n%s", acc.body)
	}
	wantStatus(t, "/devices", c.get("/devices"), http.StatusNotFound, "")
	wantStatus(t, "/password", c.get("/password"), http.StatusOK, "")
}

// The devices page shows a time a session does not say as a dash, not as
// the year 1.
func TestWhenUnknown(t *testing.T) {
	if got := when(time.Time{}); got != "–" {
		t.Errorf("zero time shown as %q", got)
	}
	if got := when(time.Date(2026, 1, 2, 15, 4, 59, 0, time.UTC)); got != "Jan 2, 15:04" {
		t.Errorf("shown as %q", got)
	}
}
