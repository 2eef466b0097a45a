package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/chromedp/chromedp"
)

// TestBrowserWebapp drives the real examples/webapp server with headless
// Chromium, in two browser contexts (two separate cookie jars, as two
// devices):
//
//  1. in the first, /account sends an anonymous visitor to /login; bob logs
//     in with the form and lands on /account, which names him;
//  2. /admin is 403 for bob;
//  3. bob logs out, alice logs in with the form in the same context (for a
//     logged-in user, /login?next= asks for their own password again), and
//     /admin is 200;
//  4. the second context logs in as alice too;
//  5. in the first, alice presses "Log out everywhere": the second context's
//     /account now redirects to /login, and so does the first's.
//
// Screenshots of the login page, /account, /admin refused and /admin shown
// are saved as TestBrowser saves its own (AUTHIX_E2E_ARTIFACTS). It skips
// without Chromium, unless AUTHIX_REQUIRE_BROWSER=1.
func TestBrowserWebapp(t *testing.T) {
	browserPath := findChromium(t)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)

	base := startWebapp(ctx, t, authix.GenerateKey())
	browser := startBrowser(ctx, t, browserPath)
	first, second := newBrowserContext(t, browser), newBrowserContext(t, browser)
	run := func(tab context.Context, name string, f func(ctx context.Context) error) {
		t.Helper()
		sctx, cancel := context.WithTimeout(tab, 30*time.Second)
		defer cancel()
		if err := f(sctx); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}

	// 1. Anonymous: /account leads to the login form; bob logs in.
	run(first, "step 1: login as bob", func(ctx context.Context) error {
		resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(base+"/account"))
		if err != nil {
			return err
		}
		if want := base + "/login?next=%2Faccount"; resp.Status != http.StatusOK || resp.URL != want {
			return fmt.Errorf("/account ended on %s with %d, want %s with 200", resp.URL, resp.Status, want)
		}
		if err := screenshot(ctx, t, "webapp-login.png"); err != nil {
			return err
		}
		return formLogin(ctx, "bob", "builder", base+"/account")
	})
	run(first, "step 1: account", func(ctx context.Context) error {
		if err := wantText(ctx, "#name", "bob"); err != nil {
			return err
		}
		return screenshot(ctx, t, "webapp-account.png")
	})

	// 2. bob is no admin.
	run(first, "step 2: /admin as bob", func(ctx context.Context) error {
		if err := wantPage(ctx, base+"/admin", http.StatusForbidden, base+"/admin"); err != nil {
			return err
		}
		if err := wantText(ctx, "#status", "This page is for admins only."); err != nil {
			return err
		}
		return screenshot(ctx, t, "webapp-admin-403.png")
	})

	// 3. bob logs out, alice logs in in the same context: the admin page
	// opens.
	run(first, "step 3: login as alice", func(ctx context.Context) error {
		if err := wantPage(ctx, base+"/account", http.StatusOK, base+"/account"); err != nil {
			return err
		}
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("#logout")))
		if err != nil {
			return err
		}
		if resp.Status != http.StatusOK || resp.URL != base+"/" {
			return fmt.Errorf("logout ended on %s with %d, want %s/ with 200", resp.URL, resp.Status, base)
		}
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/login?next=%2Fadmin")); err != nil {
			return err
		}
		if err := formLogin(ctx, "alice", "wonderland", base+"/admin"); err != nil {
			return err
		}
		if err := wantText(ctx, "#status", "Welcome, alice: only admins see this page."); err != nil {
			return err
		}
		return screenshot(ctx, t, "webapp-admin-200.png")
	})

	// 4. A second device logs in as alice.
	run(second, "step 4: login as alice elsewhere", func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/login?next=%2Faccount")); err != nil {
			return err
		}
		if err := formLogin(ctx, "alice", "wonderland", base+"/account"); err != nil {
			return err
		}
		return wantText(ctx, "#name", "alice")
	})

	// 5. Log out everywhere from the first: both are logged out.
	run(first, "step 5: log out everywhere", func(ctx context.Context) error {
		if err := wantPage(ctx, base+"/account", http.StatusOK, base+"/account"); err != nil {
			return err
		}
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("#logout-everywhere")))
		if err != nil {
			return err
		}
		if resp.Status != http.StatusOK || resp.URL != base+"/" {
			return fmt.Errorf("log out everywhere ended on %s with %d, want %s/ with 200", resp.URL, resp.Status, base)
		}
		return wantText(ctx, "#status", "You are not logged in. Log in.")
	})
	for _, tab := range []struct {
		name string
		ctx  context.Context
	}{{"second", second}, {"first", first}} {
		run(tab.ctx, "step 5: /account in the "+tab.name+" context", func(ctx context.Context) error {
			return wantPage(ctx, base+"/account", http.StatusOK, base+"/login?next=%2Faccount")
		})
	}
}

// newBrowserContext opens a tab in a browser context of its own (a fresh
// profile: no cookies shared with other contexts), closed when the test
// ends.
func newBrowserContext(t *testing.T, browser context.Context) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The first Do opens the tab for as long as tab lives.
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("opening a browser context: %v", err)
	}
	return tab
}

// formLogin fills the login form on the current page and submits it; the
// browser must then show wantURL with 200.
func formLogin(ctx context.Context, name, password, wantURL string) error {
	if err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS("#username")),
		chromedp.SendKeys(chromedp.CSS("#username"), name),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
	); err != nil {
		return err
	}
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("#login")))
	if err != nil {
		return err
	}
	if resp.Status != http.StatusOK || resp.URL != wantURL {
		return fmt.Errorf("login as %s ended on %s with %d, want %s with 200", name, resp.URL, resp.Status, wantURL)
	}
	return nil
}

// wantPage navigates to url and checks where the browser ends and with what.
func wantPage(ctx context.Context, url string, status int, wantURL string) error {
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(url))
	if err != nil {
		return err
	}
	if resp.Status != int64(status) || resp.URL != wantURL {
		return fmt.Errorf("%s ended on %s with %d, want %s with %d", url, resp.URL, resp.Status, wantURL, status)
	}
	return nil
}

// wantText checks the text of the element sel on the current page.
func wantText(ctx context.Context, sel, want string) error {
	got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		return err
	}
	if strings.TrimSpace(got) != want {
		return fmt.Errorf("%s shows %q, want %q", sel, got, want)
	}
	return nil
}

// startWebapp builds ./examples/webapp, runs it on a free loopback port with
// the given key and no REDIS_URL (revocations in memory), and returns its
// URL on http://localhost.
func startWebapp(ctx context.Context, t *testing.T, key string) string {
	t.Helper()
	return startExample(ctx, t, "webapp", key, "/login", http.StatusOK)
}
