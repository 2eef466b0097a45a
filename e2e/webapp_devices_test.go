package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// firefoxAndroid is the User-Agent the second browser context sends, so
// that the two devices have different names.
const firefoxAndroid = "Mozilla/5.0 (Android 14; Mobile; rv:128.0) Gecko/128.0 Firefox/128.0"

// TestBrowserWebappDevices drives examples/webapp, built with the test clock
// (-tags authix_e2e), in two browser contexts, a laptop (headless Chromium
// as it is) and a phone (which says it is Firefox on Android):
//
//  1. alice logs in on both, the phone with "remember me";
//  2. the laptop's devices page lists both sessions by their short names,
//     the laptop's marked as this device;
//  3. the laptop ends the phone's session: the list has one row left, and
//     the phone's next page sends it to log in;
//  4. the change-password page opens right after the login; once the
//     test clock has moved past the 10-minute step-up age, it sends the
//     laptop to the login page, which asks for alice's password again and
//     returns to it;
//  5. with the phone logged in again, the laptop changes the password: the
//     laptop stays logged in, the phone is sent to log in, and the new
//     password logs it in.
//
// Screenshots of the devices page and of the confirm-password page are saved
// as TestBrowser saves its own (AUTHIX_E2E_ARTIFACTS). It skips without
// Chromium, unless AUTHIX_REQUIRE_BROWSER=1.
func TestBrowserWebappDevices(t *testing.T) {
	browserPath := findChromium(t)

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)

	base := startExample(ctx, t, "webapp", authix.GenerateKey(), "/login", http.StatusOK, "authix_e2e")
	browser := startBrowser(ctx, t, browserPath)
	laptop, phone := newBrowserContext(t, browser), newBrowserContext(t, browser)
	run := func(tab context.Context, name string, f func(ctx context.Context) error) {
		t.Helper()
		sctx, cancel := context.WithTimeout(tab, 30*time.Second)
		defer cancel()
		if err := f(sctx); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	login := func(ctx context.Context, password, next string, remember bool) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(base+"/login?next="+next)); err != nil {
			return err
		}
		if remember {
			if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#remember"))); err != nil {
				return err
			}
		}
		return formLogin(ctx, "alice", password, base+strings.ReplaceAll(next, "%2F", "/"))
	}

	// 1. Two devices.
	run(phone, "step 1: the phone's User-Agent", func(ctx context.Context) error {
		_, err := chromedp.Call(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{UserAgent: firefoxAndroid})
		return err
	})
	run(laptop, "step 1: login on the laptop", func(ctx context.Context) error {
		return login(ctx, "wonderland", "%2Faccount", false)
	})
	run(phone, "step 1: login on the phone", func(ctx context.Context) error {
		return login(ctx, "wonderland", "%2Faccount", true)
	})

	// 2. The laptop's list.
	run(laptop, "step 2: devices", func(ctx context.Context) error {
		if err := wantPage(ctx, base+"/devices", http.StatusOK, base+"/devices"); err != nil {
			return err
		}
		rows, err := deviceRows(ctx)
		if err != nil {
			return err
		}
		// Both logged in within a second or so: their order may go either way.
		slices.SortFunc(rows, func(a, b deviceRow) int { return strings.Compare(a.Device, b.Device) })
		want := []deviceRow{{"Chrome on Linux this device", "no", false}, {"Firefox on Android", "yes", true}}
		if !slices.Equal(rows, want) {
			return fmt.Errorf("devices page rows %+v, want %+v", rows, want)
		}
		return screenshot(ctx, t, "webapp-devices.png")
	})

	// 3. The laptop ends the phone's session.
	run(laptop, "step 3: end the phone's session", func(ctx context.Context) error {
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("#devices tbody tr:not(#current) button.end")))
		if err != nil {
			return err
		}
		if resp.Status != http.StatusOK || resp.URL != base+"/devices" {
			return fmt.Errorf("ending the phone's session ended on %s with %d, want %s/devices with 200", resp.URL, resp.Status, base)
		}
		rows, err := deviceRows(ctx)
		if err != nil {
			return err
		}
		if want := []deviceRow{{"Chrome on Linux this device", "no", false}}; !slices.Equal(rows, want) {
			return fmt.Errorf("devices page rows %+v, want %+v", rows, want)
		}
		return nil
	})
	run(phone, "step 3: the phone's next page", func(ctx context.Context) error {
		return wantPage(ctx, base+"/account", http.StatusOK, base+"/login?next=%2Faccount")
	})

	// 4. Step-up: fresh after the login, stale 11 minutes later.
	run(laptop, "step 4: change password page, fresh", func(ctx context.Context) error {
		return wantPage(ctx, base+"/password", http.StatusOK, base+"/password")
	})
	advanceClock(t, base, 11*time.Minute)
	run(laptop, "step 4: change password page, stale", func(ctx context.Context) error {
		if err := wantPage(ctx, base+"/password", http.StatusOK, base+"/login?next=%2Fpassword"); err != nil {
			return err
		}
		if err := wantText(ctx, "h1", "Confirm your password"); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#password"))); err != nil {
			return err
		}
		if err := screenshot(ctx, t, "webapp-confirm-password.png"); err != nil {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("#password"), "wonderland")); err != nil {
			return err
		}
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("#confirm")))
		if err != nil {
			return err
		}
		if resp.Status != http.StatusOK || resp.URL != base+"/password" {
			return fmt.Errorf("confirming ended on %s with %d, want %s/password with 200", resp.URL, resp.Status, base)
		}
		return wantText(ctx, "h1", "Change password")
	})

	// 5. The phone logs in again; the laptop changes the password.
	run(phone, "step 5: login on the phone again", func(ctx context.Context) error {
		return login(ctx, "wonderland", "%2Faccount", false)
	})
	run(laptop, "step 5: change the password", func(ctx context.Context) error {
		if err := chromedp.Do(ctx,
			chromedp.SendKeys(chromedp.CSS("#new-password"), "looking-glass"),
			chromedp.SendKeys(chromedp.CSS("#again"), "looking-glass"),
		); err != nil {
			return err
		}
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("#change")))
		if err != nil {
			return err
		}
		if resp.Status != http.StatusOK || resp.URL != base+"/password" {
			return fmt.Errorf("changing the password ended on %s with %d, want %s/password with 200", resp.URL, resp.Status, base)
		}
		if err := wantText(ctx, "#status", "Your password was changed, and you were logged out on every other device."); err != nil {
			return err
		}
		if err := wantPage(ctx, base+"/account", http.StatusOK, base+"/account"); err != nil {
			return err
		}
		return wantText(ctx, "#name", "alice")
	})
	run(phone, "step 5: the phone after the change", func(ctx context.Context) error {
		if err := wantPage(ctx, base+"/account", http.StatusOK, base+"/login?next=%2Faccount"); err != nil {
			return err
		}
		return formLogin(ctx, "alice", "looking-glass", base+"/account")
	})
}

// deviceRow is a row of the devices table as the browser shows it.
type deviceRow struct {
	Device     string `json:"device"` // the first cell's text: the label, and "this device"
	Remembered string `json:"remembered"`
	EndButton  bool   `json:"end"`
}

// deviceRows reads the devices table of the current page.
func deviceRows(ctx context.Context) ([]deviceRow, error) {
	return chromedp.Run(ctx, chromedp.Evaluate[[]deviceRow](`[...document.querySelectorAll("#devices tbody tr")].map(tr => ({
		device: tr.cells[0].innerText.trim().replace(/\s+/g, " "),
		remembered: tr.cells[4].innerText.trim(),
		end: tr.querySelector("button.end") !== null,
	}))`))
}

// advanceClock moves the clock of a webapp built with -tags authix_e2e.
func advanceClock(t *testing.T, base string, d time.Duration) {
	t.Helper()
	resp, err := http.Post(base+"/_e2e/clock?advance="+d.String(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("moving the webapp's clock: %d %s", resp.StatusCode, body)
	}
	t.Logf("the webapp's clock now says %s", strings.TrimSpace(string(body)))
}
