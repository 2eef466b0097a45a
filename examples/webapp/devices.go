package main

import (
	"net/http"
	"strings"
)

// deviceLabel names a login's device on the devices page, such as "Firefox
// on Linux": the browser and the system read from the User-Agent, each
// reduced to one of a few fixed names. Only that name is kept, for as long
// as the session lasts: never the User-Agent itself, detailed enough to
// tell people apart, nor the IP address.
func deviceLabel(userAgent string) string {
	browser, system := pick(userAgent, browsers), pick(userAgent, systems)
	switch {
	case browser == "" && system == "":
		return "Unknown device"
	case system == "":
		return browser
	case browser == "":
		return "A browser on " + system
	}
	return browser + " on " + system
}

// browsers and systems are checked in order, the first match wins: most
// browsers name others in their User-Agent (Edge says Chrome, Chrome says
// Safari), and Android says Linux.
var (
	browsers = [][2]string{
		{"Edg", "Edge"}, {"OPR/", "Opera"}, {"SamsungBrowser/", "Samsung Internet"},
		{"Firefox/", "Firefox"}, {"FxiOS/", "Firefox"},
		{"Chrome/", "Chrome"}, {"CriOS/", "Chrome"}, {"Chromium/", "Chromium"},
		{"Safari/", "Safari"}, {"curl/", "curl"},
	}
	systems = [][2]string{
		{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"CrOS", "ChromeOS"},
		{"Windows", "Windows"}, {"Macintosh", "macOS"}, {"Linux", "Linux"},
	}
)

func pick(userAgent string, names [][2]string) string {
	for _, n := range names {
		if strings.Contains(userAgent, n[0]) {
			return n[1]
		}
	}
	return ""
}

// devicesPage lists the user's sessions, this one marked, with a button to end
// each other one and one to end them all.
func (a *app) devicesPage(w http.ResponseWriter, r *http.Request) {
	list, err := a.vault.Devices(r.Context())
	if err != nil {
		a.fail(w, r, "devices", err)
		return
	}
	others := 0
	for _, d := range list {
		if !d.Current {
			others++
		}
	}
	a.render(w, http.StatusOK, "devices", map[string]any{
		"User": a.vault.MustData(r.Context()), "Devices": list, "Others": others,
	})
}

// endDevice ends one session of the user, on every replica: its next
// request is sent to log in.
func (a *app) endDevice(w http.ResponseWriter, r *http.Request) {
	if err := a.vault.EndDevice(r.Context(), r.PostFormValue("id")); err != nil {
		a.fail(w, r, "end device", err)
		return
	}
	http.Redirect(w, r, "/devices", http.StatusSeeOther)
}

// endOtherDevices ends every session of the user but this one.
func (a *app) endOtherDevices(w http.ResponseWriter, r *http.Request) {
	if err := a.vault.EndOtherDevices(r.Context()); err != nil {
		a.fail(w, r, "end other devices", err)
		return
	}
	http.Redirect(w, r, "/devices", http.StatusSeeOther)
}
