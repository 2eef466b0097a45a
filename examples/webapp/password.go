package main

import (
	"errors"
	"net/http"

	"github.com/authix-go/authix"
)

// confirm is the login form's answer for a user who is logged in and was
// sent to confirm their password (vault.RequireConfirmed): it checks the
// password of that user and confirms the session they have, which keeps
// its id, its end and its place in the devices list, instead of starting
// another one.
func (a *app) confirm(w http.ResponseWriter, r *http.Request, next string) {
	u, err := a.vault.Authenticate(r)
	if err != nil {
		// The session ended between the form and its answer.
		a.render(w, http.StatusUnauthorized, "login", map[string]any{"Next": next, "Error": "Your session has ended. Please log in again."})
		return
	}
	if got, ok := a.users.checkPassword(u.Name, r.PostFormValue("password")); !ok || got.ID != u.ID {
		a.render(w, http.StatusUnauthorized, "confirm", map[string]any{"Next": next, "User": u, "Error": "Wrong password."})
		return
	}
	if _, err := a.vault.Confirm(w, r); errors.Is(err, authix.ErrCrossOrigin) {
		reject(w, r, err)
		return
	} else if err != nil {
		a.fail(w, r, "confirm", err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (a *app) passwordForm(w http.ResponseWriter, r *http.Request) {
	a.render(w, http.StatusOK, "password", map[string]any{"User": a.vault.MustData(r.Context())})
}

// changePassword sets the user's new password, then ends every other
// session of theirs, as a password change must: whoever had the old
// password or a session of it is out. It uses LogoutEverywhere rather than
// EndOtherDevices: the devices list keeps at most authix.MaxDevices sessions,
// so someone who had the password could have started sessions it no longer
// lists, and LogoutEverywhere refuses every token issued until now, listed
// or not. That refuses this browser's token too, so it gets a new session,
// as after a login: the user proved who they are within the step-up age.
func (a *app) changePassword(w http.ResponseWriter, r *http.Request) {
	u := a.vault.MustData(r.Context())
	password := r.PostFormValue("password")
	var problem string
	switch {
	case len(password) < minPassword:
		problem = "Choose a password of at least 8 characters."
	case password != r.PostFormValue("again"):
		problem = "The two passwords differ."
	}
	if problem != "" {
		a.render(w, http.StatusBadRequest, "password", map[string]any{"User": u, "Error": problem})
		return
	}
	if !a.users.setPassword(u.ID, password) {
		a.fail(w, r, "change password", errUserGone)
		return
	}
	info, _ := a.vault.Info(r.Context())
	if err := a.vault.LogoutEverywhere(r.Context(), u.ID); err != nil {
		a.fail(w, r, "change password: the password changed, but other sessions were not ended", err)
		return
	}
	if err := a.vault.SetAccessToken(w, u, authix.RememberMe(info.Remembered), authix.DeviceLabel(deviceLabel(r.UserAgent()))); err != nil {
		a.fail(w, r, "change password: new session", err)
		return
	}
	a.render(w, http.StatusOK, "password", map[string]any{"User": u, "Changed": true})
}
